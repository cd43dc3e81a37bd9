{#- Union only (STYLE D4): every venue's staged liquidation-collector coverage gaps with one
    fixed column list. Adding a venue is one line in `staged_gaps`. -#}
{%- set staged_gaps = [
    ref('stg_binance__collector_coverage_gaps'),
    ref('stg_bybit__collector_coverage_gaps'),
    ref('stg_okx__collector_coverage_gaps'),
] -%}

{%- set gap_columns = [
    'coverage_gap_id',
    'exchange_id',
    'stream',
    'gap_reason',
    'is_open_gap',
    'gap_started_at',
    'uncovered_start_at',
    'uncovered_end_at',
    '_partition_date',
] -%}

with

unioned as (

    {% for staged in staged_gaps %}
    select {{ gap_columns | join(', ') }}
    from {{ staged }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
