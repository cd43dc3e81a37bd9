{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail',
        pre_hook = "{{ delete_window('liquidation_date') }}",
    )
}}
{#- Replaces the run window [window_start, window_end) exactly: the pre-hook deletes the window,
    then the model appends what the lake holds for it now. A liquidation counts when some
    quantity was filled (filled_qty > 0); zero-fill events carry no liquidated notional. -#}
with

liquidations as (

    select * from {{ ref('int_liquidations__unioned') }}
    where {{ in_window('_partition_date') }}

),

quote_usd_rates as (

    select * from {{ ref('quote_asset_usd_rates') }}

),

enriched as (

    select
        liquidations.liquidation_id,
        {{ instrument_id(
            'liquidations.exchange_id', 'liquidations.symbol', 'liquidations.contract_type'
        ) }} as instrument_id,
        liquidations.exchange_id,
        liquidations.symbol,
        liquidations.base_asset,
        liquidations.quote_asset,
        liquidations.contract_type,
        liquidations.position_side,
        liquidations.order_status,
        liquidations.liquidated_qty_coin,
        liquidations.avg_fill_price_quote,
        liquidations.liquidated_notional_quote,
        quote_usd_rates.usd_per_quote_unit,
        liquidations.liquidated_notional_quote
            * quote_usd_rates.usd_per_quote_unit as liquidated_notional_usd,
        liquidations.is_sampled_feed,
        liquidations.liquidated_at,
        cast(liquidations.liquidated_at as date) as liquidation_date

    from liquidations

    left join quote_usd_rates
        on liquidations.quote_asset = quote_usd_rates.quote_asset

    where liquidations.liquidated_qty_coin > 0
        and {{ in_window('cast(liquidations.liquidated_at as date)') }}

)

-- in date order: a window's delete and reads skip the other days' row groups (window.sql)
select * from enriched
order by liquidation_date
