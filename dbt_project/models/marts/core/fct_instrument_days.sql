{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail',
        pre_hook = "{{ delete_window('seen_date') }}",
    )
}}
{#- The UTC days each instrument appears in a fact (a candle, an open-interest snapshot, a
    funding event or a liquidation): dim_instruments takes first and last seen days from this
    small table instead of reading every row of every fact on each run. Incremental over the
    run window, like the facts it reads (everything on a first build). -#}
with

price_candles as (

    select * from {{ ref('fct_price_candles') }}
    where {{ in_refresh('candle_date') }}

),

open_interest_snapshots as (

    select * from {{ ref('fct_open_interest_snapshots') }}
    where {{ in_refresh('snapshot_date') }}

),

funding_rates as (

    select * from {{ ref('fct_funding_rates') }}
    where {{ in_refresh('funding_date') }}

),

liquidations as (

    select * from {{ ref('fct_liquidations') }}
    where {{ in_refresh('liquidation_date') }}

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

instrument_days as (

    select distinct
        instrument_id,
        exchange_id,
        symbol,
        base_asset,
        quote_asset,
        contract_type,
        seen_date

    from mentions

)

-- in date order: a window's delete and reads skip the other days' row groups (window.sql)
select * from instrument_days
order by seen_date
