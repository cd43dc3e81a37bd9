{#- A candle is closed when its scheduled close time lies before the moment its data was
    fetched: the earliest fetch time of the payloads its day file was built from (from the
    landing manifest), or the landing time when the manifest lists no payloads. A candle
    without a manifest cannot be proven closed and is left out. -#}
with

klines as (

    select * from {{ ref('int_klines__unioned') }}

),

manifests as (

    select * from {{ ref('stg_landing__manifests') }}
    where dataset = 'klines'

),

closed as (

    select
        klines.exchange_id,
        klines.symbol,
        klines.base_asset,
        klines.quote_asset,
        klines.contract_type,
        klines.kline_interval,
        klines.open_price_quote,
        klines.high_price_quote,
        klines.low_price_quote,
        klines.close_price_quote,
        klines.volume_coin,
        klines.volume_quote,
        klines.trade_count,
        klines.candle_open_at,
        klines.candle_close_at,
        coalesce(manifests.first_fetched_at, manifests.landed_at) as fetched_at,
        klines._partition_date

    from klines

    inner join manifests
        on klines.exchange_id = manifests.exchange_id
        and klines.symbol = manifests.symbol
        and klines.kline_interval = manifests.kline_interval
        and klines._partition_date = manifests.capture_date

    where klines.candle_close_at < coalesce(manifests.first_fetched_at, manifests.landed_at)

)

select * from closed
