"""cryptodw: a crypto derivatives data warehouse.

exchange APIs -> `sources` (parse to typed records) -> `lake` (raw parquet) -> dbt on DuckDB
-> `quality` gates -> a published read-only warehouse. This package never imports Airflow.
"""
