"""Superset's configuration for this project (Superset imports it as `superset_config`).

Everything secret or deployment-specific comes from the environment, with no defaults:
SUPERSET_SECRET_KEY signs sessions and encrypts stored connection details, and
SUPERSET_DATABASE_URI is Superset's own metadata database (Postgres in docker-compose, a
throwaway SQLite file in the tests). The warehouse itself is not configured here: the
provisioning (include/cryptodw/bi/provision.py) registers it through the REST API.
"""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_DATABASE_URI"]

# Analysts read published marts; no CSV uploads into the warehouse, no example data.
CSV_EXTENSIONS: set[str] = set()
EXCEL_EXTENSIONS: set[str] = set()
COLUMNAR_EXTENSIONS: set[str] = set()
