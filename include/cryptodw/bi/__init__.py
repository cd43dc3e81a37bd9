"""The BI tool: Superset, provisioned from code against the published, read-only warehouse.

superset_config.py is Superset's own configuration, dashboard.py the "Market stress"
dashboard as data, superset.py a small REST client, provision.py the entry point.
"""
