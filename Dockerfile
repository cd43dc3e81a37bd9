# One image for every Airflow component and the CLI: the pinned stack plus this repository.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    AIRFLOW_HOME=/opt/airflow \
    PYTHONPATH=/opt/cryptodw \
    CRYPTODW_DATA_DIR=/data

RUN pip install --no-cache-dir uv==0.13.9
COPY requirements.txt /tmp/requirements.txt
RUN uv pip install --system --no-cache -r /tmp/requirements.txt

WORKDIR /opt/cryptodw
COPY dags ./dags
COPY include ./include
COPY dbt_project ./dbt_project

RUN useradd --create-home --uid 50000 airflow && mkdir -p /data /opt/airflow && chown -R airflow /data /opt/airflow
USER airflow
