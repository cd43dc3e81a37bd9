{#- Bybit linear contract specifications, one row per contract and instruments snapshot, in the
    columns every venue's staged instruments share. A linear contract has no contract size:
    quantities are in base coin, so one contract is 1 coin here. -#}
{#- Every snapshot, whatever the run window: a snapshot lands on the day the venue answered,
    and the liquidations of any window are sized by the snapshots around them. -#}
{{ config(materialized = 'table') }}

with

source as (

    {{ select_source_columns('bybit', 'instruments', windowed=false) }}

),

renamed as (

    select
        ---------- ids
        'bybit' as exchange_id,
        symbol,
        symbol as venue_instrument_id,

        ---------- strings
        base_coin as base_asset,
        quote_coin as quote_asset,
        case contract_type
            when 'LinearPerpetual' then 'perpetual'
            when 'LinearFutures' then 'delivery'
        end as contract_type,
        settle_coin as settle_asset,
        status as instrument_status,

        ---------- numerics
        1.0 as contract_size_coin,
        tick_size as tick_size_quote,
        qty_step as lot_size_coin,
        min_order_qty as min_order_qty_coin,
        funding_interval_minutes / 60.0 as funding_interval_hours,

        ---------- timestamps
        launch_time as listed_at,
        delivery_time as delivery_at,
        snapshot_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from source

),

deduplicated as (

    select * from renamed
    qualify row_number() over (
        partition by venue_instrument_id, snapshot_at
        order by _source
    ) = 1

)

select * from deduplicated
