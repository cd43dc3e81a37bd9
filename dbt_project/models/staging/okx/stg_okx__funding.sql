{#- OKX settled funding: the rate is `realizedRate` (OKX's `fundingRate` in the history is the
    forecast and is not used). The history states neither the interval nor a mark price: both
    are NULL (fct_funding_rates derives the interval from consecutive settlements). `symbol` is
    the warehouse's spelling (BTC-USDT-SWAP -> BTCUSDT). -#}
with

source as (

    {{ select_source_columns('okx', 'funding') }}

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

        ---------- numerics
        realized_rate as funding_rate,
        cast(null as integer) as funding_interval_hours,
        cast(null as double) as mark_price_quote,

        ---------- timestamps
        funding_time as funding_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from source

),

deduplicated as (

    select * from renamed
    qualify row_number() over (
        partition by symbol, funding_at
        order by _source, funding_rate
    ) = 1

)

select * from deduplicated
