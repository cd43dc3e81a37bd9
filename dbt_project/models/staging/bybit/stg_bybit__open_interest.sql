{#- Bybit open interest, made ONE-SIDED like every venue's in the warehouse: Bybit's
    `openInterest` is the sum of both sides, `singleOpenInterest` one side (only in answers
    from 2026-06 on). The one-sided figure is `singleOpenInterest` when present, else half of
    `openInterest`.
    Bybit states no value for it, so the quote value is the coin figure x a price read from
    Bybit's own hourly candles: the price at the snapshot interpolated linearly between the
    open and the close of the hourly candle it falls in (the close of the previous candle when
    its own candle is not landed yet). Without a candle in the two hours before the snapshot
    the value is NULL (and fct_open_interest_snapshots' not_null test says so).
    Dated linear futures carry a `-DDMMMYY` suffix (BTCUSDT-26MAR27); perpetuals none. -#}
{%- set dated_suffix = "'-[0-9]{2}[A-Z]{3}[0-9]{2}$'" -%}
{%- set undated_symbol = "regexp_replace(symbol, " ~ dated_suffix ~ ", '')" -%}
with

source as (

    {{ select_source_columns('bybit', 'open_interest') }}

),

klines as (

    select * from {{ ref('stg_bybit__klines') }}
    where kline_interval = '1h'
        {#- a snapshot is priced by a candle of its last 2 hours; the day before the window
            holds every candle the window's snapshots can use -#}
        and _partition_date >= {{ window_bound('window_start') }} - interval 1 day

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

        ---------- numerics
        coalesce(single_open_interest_base, open_interest_base / 2) as open_interest_coin,

        ---------- timestamps
        snapshot_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from source

),

deduplicated as (

    select * from renamed
    qualify row_number() over (
        partition by symbol, snapshot_at
        order by _source, open_interest_coin
    ) = 1

),

priced as (

    select
        deduplicated.exchange_id,
        deduplicated.symbol,
        deduplicated.base_asset,
        deduplicated.quote_asset,
        deduplicated.contract_type,
        deduplicated.open_interest_coin,
        case
            when deduplicated.snapshot_at < klines.candle_open_at + interval 2 hour
                then deduplicated.open_interest_coin * (
                    klines.open_price_quote
                    + (klines.close_price_quote - klines.open_price_quote) * least(
                        epoch_ms(deduplicated.snapshot_at - klines.candle_open_at) / 3600000.0,
                        1.0
                    )
                )
        end as open_interest_quote,
        deduplicated.snapshot_at,
        deduplicated._partition_date,
        deduplicated._source

    from deduplicated

    {# The latest hourly candle that opened at or before the snapshot. #}
    asof left join klines
        on deduplicated.symbol = klines.symbol
        and deduplicated.snapshot_at >= klines.candle_open_at

)

select * from priced
