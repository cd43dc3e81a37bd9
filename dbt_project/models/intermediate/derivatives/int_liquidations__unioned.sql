{#- Union only (STYLE D4): every staged venue with the same explicit columns. Adding a venue
    is one line in `staged_liquidations`. USD conversion and instruments come later. -#}
{%- set staged_liquidations = [
    ref('stg_binance__liquidations'),
    ref('stg_bybit__liquidations'),
    ref('stg_okx__liquidations'),
] -%}

{%- set liquidation_columns = [
    'liquidation_id',
    'exchange_id',
    'symbol',
    'base_asset',
    'quote_asset',
    'contract_type',
    'position_side',
    'order_status',
    'price_basis',
    'liquidated_qty_coin',
    'avg_fill_price_quote',
    'liquidated_notional_quote',
    'is_sampled_feed',
    'liquidated_at',
    '_partition_date',
] -%}

with

unioned as (

    {% for staged in staged_liquidations %}
    select {{ liquidation_columns | join(', ') }}
    from {{ staged }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
