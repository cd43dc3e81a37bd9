{#- Candles as Binance reports them, open ones included: whether a candle had closed when it
    was fetched is only known from the landing manifest (int_klines__closed). -#}
with

source as (

    {{ select_source_columns('binance', 'klines') }}

),

renamed as (

    select
        ---------- ids
        'binance' as exchange_id,
        symbol,

        ---------- strings
        {{ symbol_base_asset('symbol') }} as base_asset,
        {{ symbol_quote_asset('symbol') }} as quote_asset,
        {{ binance_contract_type('symbol') }} as contract_type,
        "interval" as kline_interval,

        ---------- numerics
        open_price as open_price_quote,
        high_price as high_price_quote,
        low_price as low_price_quote,
        close_price as close_price_quote,
        volume_base as volume_coin,
        volume_quote,
        trade_count,
        taker_buy_volume_base as taker_buy_volume_coin,
        taker_buy_volume_quote,

        ---------- timestamps
        open_time as candle_open_at,
        close_time as candle_close_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from source

),

deduplicated as (

    {#- The writer drops exact duplicate rows; an archive row and a REST row for the same candle
        would differ only in _source: keep one, deterministically. -#}
    select * from renamed
    qualify row_number() over (
        partition by symbol, kline_interval, candle_open_at
        order by _source, close_price_quote, volume_coin, high_price_quote, low_price_quote,
            open_price_quote
    ) = 1

)

select * from deduplicated
