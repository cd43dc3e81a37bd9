{#- OKX swap open interest, one-sided as OKX reports it: `oiCcy` in base coin, and `oiUsd` as
    the value. OKX states the value in USD; the warehouse's quote assets are USD-pegged at 1.0
    (seed quote_asset_usd_rates), so the USD value is the quote value. `symbol` is the
    warehouse's spelling (BTC-USDT-SWAP -> BTCUSDT). -#}
with

source as (

    {{ select_source_columns('okx', 'open_interest') }}

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
        open_interest_coin,
        open_interest_usd as open_interest_quote,

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
        order by _source, open_interest_coin, open_interest_quote
    ) = 1

)

select * from deduplicated
