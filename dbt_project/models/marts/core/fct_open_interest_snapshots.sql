{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail',
        pre_hook = "{{ delete_window('snapshot_date') }}",
    )
}}
{#- One-sided open interest (a stock) per instrument and snapshot, in coin and USD. -#}
with

open_interest as (

    select * from {{ ref('int_open_interest__unioned') }}
    where {{ in_window('_partition_date') }}

),

quote_usd_rates as (

    select * from {{ ref('quote_asset_usd_rates') }}

),

enriched as (

    select
        {{ generate_surrogate_key([
            'open_interest.exchange_id', 'open_interest.symbol', 'open_interest.snapshot_at',
        ]) }} as open_interest_snapshot_id,
        {{ instrument_id(
            'open_interest.exchange_id', 'open_interest.symbol', 'open_interest.contract_type'
        ) }} as instrument_id,
        open_interest.exchange_id,
        open_interest.symbol,
        open_interest.base_asset,
        open_interest.quote_asset,
        open_interest.contract_type,
        open_interest.open_interest_coin,
        open_interest.open_interest_quote,
        quote_usd_rates.usd_per_quote_unit,
        open_interest.open_interest_quote
            * quote_usd_rates.usd_per_quote_unit as open_interest_usd,
        open_interest.snapshot_at,
        cast(open_interest.snapshot_at as date) as snapshot_date

    from open_interest

    left join quote_usd_rates
        on open_interest.quote_asset = quote_usd_rates.quote_asset

    where {{ in_window('cast(open_interest.snapshot_at as date)') }}

)

-- in date order: a window's delete and reads skip the other days' row groups (window.sql)
select * from enriched
order by snapshot_date
