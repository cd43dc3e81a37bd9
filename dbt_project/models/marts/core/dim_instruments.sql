{#- Instruments as the facts observed them: every instrument with a candle, an open-interest
    snapshot, a funding event or a liquidation in the warehouse, on the days fct_instrument_days
    lists. The market-wide liquidation stream brings instruments nothing else is landed for;
    they are instruments all the same.
    Contract terms come from the venue's latest instruments snapshot (Bybit, OKX). Binance lands
    no instruments list: its terms are NULL, except the contract size, which is 1 coin on every
    exchange that counts sizes in coin (dim_exchanges.quantity_unit). -#}
with

instrument_days as (

    select * from {{ ref('fct_instrument_days') }}

),

specifications as (

    select * from {{ ref('int_instruments__unioned') }}

),

exchanges as (

    select * from {{ ref('dim_exchanges') }}

),

instruments as (

    select
        instrument_id,
        exchange_id,
        symbol,
        base_asset,
        quote_asset,
        contract_type,
        min(seen_date) as first_seen_date,
        max(seen_date) as last_seen_date

    from instrument_days

    group by 1, 2, 3, 4, 5, 6

),

latest_specifications as (

    select * from specifications
    qualify row_number() over (
        partition by exchange_id, symbol, contract_type
        order by snapshot_at desc, venue_instrument_id
    ) = 1

),

described as (

    select
        instruments.instrument_id,
        instruments.exchange_id,
        instruments.symbol,
        latest_specifications.venue_instrument_id,
        instruments.base_asset,
        instruments.quote_asset,
        instruments.contract_type,
        latest_specifications.settle_asset,
        latest_specifications.instrument_status,
        coalesce(
            latest_specifications.contract_size_coin,
            case when exchanges.quantity_unit = 'coin' then 1.0 end
        ) as contract_size_coin,
        latest_specifications.tick_size_quote,
        latest_specifications.lot_size_coin,
        latest_specifications.min_order_qty_coin,
        latest_specifications.funding_interval_hours,
        latest_specifications.listed_at,
        latest_specifications.delivery_at,
        latest_specifications.snapshot_at as specification_snapshot_at,
        instruments.first_seen_date,
        instruments.last_seen_date

    from instruments

    left join exchanges
        on instruments.exchange_id = exchanges.exchange_id

    left join latest_specifications
        on instruments.exchange_id = latest_specifications.exchange_id
        and instruments.symbol = latest_specifications.symbol
        and instruments.contract_type = latest_specifications.contract_type

)

select * from described
