"""Operations tooling: checks that run the stack in production shape on one machine.

`celery_check` brings up Postgres, Redis and Airflow 3 with the CeleryExecutor on loopback,
runs the offline window through real Celery workers and compares the marts with a local run.
"""
