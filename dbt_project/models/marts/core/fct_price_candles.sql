{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail',
        pre_hook = "{{ delete_window('candle_date') }}",
    )
}}
{#- Closed candles only (int_klines__closed), prices converted to USD. -#}
with

klines as (

    select * from {{ ref('int_klines__closed') }}
    where {{ in_window('_partition_date') }}

),

quote_usd_rates as (

    select * from {{ ref('quote_asset_usd_rates') }}

),

enriched as (

    select
        {{ generate_surrogate_key([
            'klines.exchange_id', 'klines.symbol', 'klines.kline_interval', 'klines.candle_open_at',
        ]) }} as candle_id,
        {{ instrument_id(
            'klines.exchange_id', 'klines.symbol', 'klines.contract_type'
        ) }} as instrument_id,
        klines.exchange_id,
        klines.symbol,
        klines.base_asset,
        klines.quote_asset,
        klines.contract_type,
        klines.kline_interval,
        klines.open_price_quote * quote_usd_rates.usd_per_quote_unit as open_usd,
        klines.high_price_quote * quote_usd_rates.usd_per_quote_unit as high_usd,
        klines.low_price_quote * quote_usd_rates.usd_per_quote_unit as low_usd,
        klines.close_price_quote * quote_usd_rates.usd_per_quote_unit as close_usd,
        klines.volume_coin,
        klines.volume_quote,
        klines.volume_quote * quote_usd_rates.usd_per_quote_unit as volume_usd,
        klines.trade_count,
        quote_usd_rates.usd_per_quote_unit,
        klines.candle_open_at,
        klines.candle_close_at,
        cast(klines.candle_open_at as date) as candle_date

    from klines

    left join quote_usd_rates
        on klines.quote_asset = quote_usd_rates.quote_asset

    where {{ in_window('cast(klines.candle_open_at as date)') }}

)

-- in date order: a window's delete and reads skip the other days' row groups (window.sql)
select * from enriched
order by candle_date
