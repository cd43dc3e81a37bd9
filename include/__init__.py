"""Project code importable by DAGs, the CLI and the tests (Astronomer's `include/` convention)."""
