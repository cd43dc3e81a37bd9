{#- Union only (STYLE D4). -#}
{%- set staged_klines = [
    ref('stg_binance__klines'),
    ref('stg_bybit__klines'),
    ref('stg_okx__klines'),
] -%}

{%- set kline_columns = [
    'exchange_id',
    'symbol',
    'base_asset',
    'quote_asset',
    'contract_type',
    'kline_interval',
    'open_price_quote',
    'high_price_quote',
    'low_price_quote',
    'close_price_quote',
    'volume_coin',
    'volume_quote',
    'trade_count',
    'candle_open_at',
    'candle_close_at',
    '_partition_date',
] -%}

with

unioned as (

    {% for staged in staged_klines %}
    select {{ kline_columns | join(', ') }}
    from {{ staged }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
