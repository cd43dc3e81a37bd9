"""Exchange connectors: build the venue's real requests, parse what comes back into raw tables.

A connector receives a `Transport` and does no I/O of its own, so a live run and an offline
replay share every line of parsing. Each fetch returns a `common.ParseResult`: a table that
conforms to its schema in `include.cryptodw.schemas`, the rejected rows with their reason (for
quarantine), and the payloads the rows came from (for manifests).
"""
