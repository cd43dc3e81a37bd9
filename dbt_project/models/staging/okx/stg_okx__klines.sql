{#- OKX swap candles in the Binance staging columns. `symbol` is the warehouse's spelling of
    the instrument (base + quote, BTC-USDT-SWAP -> BTCUSDT, as the landing parts name it); OKX's
    id is kept in stg_okx__instruments. Volumes: `volCcy` (base coin) and `volCcyQuote` (quote);
    `vol` (contracts) is not needed. OKX publishes no trade count and no taker volumes (NULL).
    Only confirmed candles are landed. -#}
with

source as (

    {{ select_source_columns('okx', 'klines') }}

),

renamed as (

    select
        ---------- ids
        'okx' as exchange_id,
        split_part(inst_id, '-', 1) || split_part(inst_id, '-', 2) as symbol,

        ---------- strings
        split_part(inst_id, '-', 1) as base_asset,
        split_part(inst_id, '-', 2) as quote_asset,
        'perpetual' as contract_type,
        "interval" as kline_interval,

        ---------- numerics
        open_price as open_price_quote,
        high_price as high_price_quote,
        low_price as low_price_quote,
        close_price as close_price_quote,
        volume_base as volume_coin,
        volume_quote,
        cast(null as bigint) as trade_count,
        cast(null as double) as taker_buy_volume_coin,
        cast(null as double) as taker_buy_volume_quote,

        ---------- timestamps
        open_time as candle_open_at,
        {#- Binance's convention: the close time is the candle's last millisecond. -#}
        open_time
            + case "interval" when '1d' then interval 1 day when '1h' then interval 1 hour end
            - interval 1 millisecond as candle_close_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from source

),

deduplicated as (

    {#- A candle landed twice (two payloads) keeps one row, whatever the scan order. -#}
    select * from renamed
    qualify row_number() over (
        partition by symbol, kline_interval, candle_open_at
        order by _source, close_price_quote, volume_coin, high_price_quote, low_price_quote,
            open_price_quote
    ) = 1

)

select * from deduplicated
