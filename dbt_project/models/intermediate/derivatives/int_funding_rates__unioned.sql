{#- Union only (STYLE D4). -#}
{%- set staged_funding = [
    ref('stg_binance__funding'),
    ref('stg_bybit__funding'),
    ref('stg_okx__funding'),
] -%}

{%- set funding_columns = [
    'exchange_id',
    'symbol',
    'base_asset',
    'quote_asset',
    'contract_type',
    'funding_rate',
    'funding_interval_hours',
    'mark_price_quote',
    'funding_at',
    '_partition_date',
] -%}

with

unioned as (

    {% for staged in staged_funding %}
    select {{ funding_columns | join(', ') }}
    from {{ staged }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
