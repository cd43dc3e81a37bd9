{#- The liquidation collector's coverage gaps for bybit: no venue semantics to normalise. -#}
{{ staging_collector_coverage_gaps('bybit') }}
