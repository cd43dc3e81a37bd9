# One image for every Airflow component and the CLI: the pinned stack plus this repository.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    AIRFLOW_HOME=/opt/airflow \
    PYTHONPATH=/opt/cryptodw \
    CRYPTODW_DATA_DIR=/data

RUN pip install --no-cache-dir uv==0.13.9
COPY requirements.txt /tmp/requirements.txt
RUN uv pip install --system --no-cache -r /tmp/requirements.txt \
    && uv pip install --system --no-cache "apache-airflow-providers-celery>=3.12,<4" "apache-airflow-providers-postgres>=6,<7" "redis>=5,<7"

WORKDIR /opt/cryptodw
COPY dags ./dags
COPY include ./include
COPY dbt_project ./dbt_project

RUN useradd --create-home --uid 50000 airflow && mkdir -p /data /opt/airflow && chown -R airflow /data /opt/airflow
USER airflow
