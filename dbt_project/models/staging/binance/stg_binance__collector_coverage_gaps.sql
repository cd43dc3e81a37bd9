{#- The liquidation collector's coverage gaps for binance: no venue semantics to normalise. -#}
{{ staging_collector_coverage_gaps('binance') }}
