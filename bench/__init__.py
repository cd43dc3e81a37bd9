"""Benchmarks of the warehouse against a hand-written floor and a pandas peer.

Run them with `python -m bench.run --size tiny` (see docs/benchmarks.md).
"""
