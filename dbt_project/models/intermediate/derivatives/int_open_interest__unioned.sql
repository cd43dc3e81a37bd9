{#- Union only (STYLE D4). Every venue's open interest must be ONE-SIDED here (Binance's and
    OKX's are; Bybit's two-sided figure is made one-sided in stg_bybit__open_interest). -#}
{%- set staged_open_interest = [
    ref('stg_binance__open_interest'),
    ref('stg_bybit__open_interest'),
    ref('stg_okx__open_interest'),
] -%}

{%- set open_interest_columns = [
    'exchange_id',
    'symbol',
    'base_asset',
    'quote_asset',
    'contract_type',
    'open_interest_coin',
    'open_interest_quote',
    'snapshot_at',
    '_partition_date',
] -%}

with

unioned as (

    {% for staged in staged_open_interest %}
    select {{ open_interest_columns | join(', ') }}
    from {{ staged }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
