{#- Bybit linear candles in the Binance staging columns. Bybit publishes no trade count and no
    taker volumes (NULL here), and leaves candles still open out of its answers; whether a
    candle had closed when fetched is decided downstream from the manifest, as for Binance.
    Dated linear futures carry a `-DDMMMYY` suffix (BTCUSDT-26MAR27); perpetuals none. -#}
{%- set dated_suffix = "'-[0-9]{2}[A-Z]{3}[0-9]{2}$'" -%}
{%- set undated_symbol = "regexp_replace(symbol, " ~ dated_suffix ~ ", '')" -%}
with

source as (

    {{ select_source_columns('bybit', 'klines') }}

),

renamed as (

    select
        ---------- ids
        'bybit' as exchange_id,
        symbol,

        ---------- strings
        {{ symbol_base_asset(undated_symbol) }} as base_asset,
        {{ symbol_quote_asset(undated_symbol) }} as quote_asset,
        case when regexp_matches(symbol, {{ dated_suffix }}) then 'delivery' else 'perpetual' end
            as contract_type,
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
