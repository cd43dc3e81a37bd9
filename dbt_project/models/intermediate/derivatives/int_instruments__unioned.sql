{#- Union only (STYLE D4): every venue that lands an instruments list (Binance lands none; its
    USD-M quantities are in coin, see dim_instruments). One row per instrument and snapshot. -#}
{%- set staged_instruments = [
    ref('stg_bybit__instruments'),
    ref('stg_okx__instruments'),
] -%}

{%- set instrument_columns = [
    'exchange_id',
    'symbol',
    'venue_instrument_id',
    'base_asset',
    'quote_asset',
    'contract_type',
    'settle_asset',
    'instrument_status',
    'contract_size_coin',
    'tick_size_quote',
    'lot_size_coin',
    'min_order_qty_coin',
    'funding_interval_hours',
    'listed_at',
    'delivery_at',
    'snapshot_at',
    '_partition_date',
] -%}

with

unioned as (

    {% for staged in staged_instruments %}
    select {{ instrument_columns | join(', ') }}
    from {{ staged }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
