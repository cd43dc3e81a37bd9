{#- The liquidation collector's coverage gaps for okx: no venue semantics to normalise. -#}
{{ staging_collector_coverage_gaps('okx') }}
