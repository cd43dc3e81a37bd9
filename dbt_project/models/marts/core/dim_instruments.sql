{#- Instruments as the facts observed them: every instrument with a candle, an open-interest
    snapshot, a funding event or a liquidation in the warehouse. The market-wide liquidation
    stream brings instruments nothing else is landed for; they are instruments all the same. -#}
with

price_candles as (

    select * from {{ ref('fct_price_candles') }}

),

open_interest_snapshots as (

    select * from {{ ref('fct_open_interest_snapshots') }}

),

funding_rates as (

    select * from {{ ref('fct_funding_rates') }}

),

liquidations as (

    select * from {{ ref('fct_liquidations') }}

),

mentions as (

    select instrument_id, exchange_id, symbol, base_asset, quote_asset, contract_type,
        candle_date as seen_date
    from price_candles
    union all
    select instrument_id, exchange_id, symbol, base_asset, quote_asset, contract_type,
        snapshot_date as seen_date
    from open_interest_snapshots
    union all
    select instrument_id, exchange_id, symbol, base_asset, quote_asset, contract_type,
        funding_date as seen_date
    from funding_rates
    union all
    select instrument_id, exchange_id, symbol, base_asset, quote_asset, contract_type,
        liquidation_date as seen_date
    from liquidations

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

    from mentions

    group by 1, 2, 3, 4, 5, 6

)

select * from instruments
