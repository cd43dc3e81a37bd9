{#- OKX swap specifications, one row per instrument and instruments snapshot, in the columns
    every venue's staged instruments share. One contract is ct_val x ct_mult units of
    ct_val_ccy; that is a size in COIN only when ct_val_ccy is the base asset (linear swaps;
    inverse swaps are sized in USD), so contract_size_coin is NULL otherwise. -#}
{#- Every snapshot, whatever the run window: a snapshot lands on the day the venue answered,
    and the liquidations of any window are sized by the snapshots around them. -#}
{{ config(materialized = 'table') }}

with

source as (

    {{ select_source_columns('okx', 'instruments', windowed=false) }}

),

sized as (

    select
        *,
        {#- Coin per contract, where the contract is sized in the base coin. -#}
        case when ct_val_ccy = split_part(inst_family, '-', 1) then ct_val * ct_mult end
            as coin_per_contract

    from source

),

renamed as (

    select
        ---------- ids
        'okx' as exchange_id,
        split_part(inst_family, '-', 1) || split_part(inst_family, '-', 2) as symbol,
        inst_id as venue_instrument_id,

        ---------- strings
        split_part(inst_family, '-', 1) as base_asset,
        split_part(inst_family, '-', 2) as quote_asset,
        case inst_type when 'SWAP' then 'perpetual' when 'FUTURES' then 'delivery' end
            as contract_type,
        settle_ccy as settle_asset,
        state as instrument_status,

        ---------- numerics
        coin_per_contract as contract_size_coin,
        tick_size as tick_size_quote,
        lot_size_contracts * coin_per_contract as lot_size_coin,
        min_size_contracts * coin_per_contract as min_order_qty_coin,
        cast(null as double) as funding_interval_hours,

        ---------- timestamps
        list_time as listed_at,
        exp_time as delivery_at,
        snapshot_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from sized

),

deduplicated as (

    select * from renamed
    qualify row_number() over (
        partition by venue_instrument_id, snapshot_at
        order by _source
    ) = 1

)

select * from deduplicated
