"""The daily brief: "why is crypto moving today?", written from the marts.

A Markdown and a self-contained HTML report for one UTC day, in the shape of the market
sell-off report our users read: what moved, liquidations by side and venue, open interest,
breadth, cascades, support levels and treasury holders, with charts. Every figure comes from a
plain-SQL analysis in dbt_project/analyses/brief/, and the report's appendix prints each one.
"""

from include.cryptodw.brief.report import WrittenBrief, brief_paths, write_brief

__all__ = ["WrittenBrief", "brief_paths", "write_brief"]
