{#- The spine is capture coverage: every captured (exchange, day) x every base asset the capture
    covers (a market-wide capture covers every instrument of the exchange; a per-symbol capture
    covers its instrument). A captured day with no liquidation gets zeros; a day that was not
    captured gets no row, never a silent zero. Sums run in a fixed order (time, then id), so a
    re-run reproduces them bit for bit. -#}
with

liquidations as (

    select * from {{ ref('fct_liquidations') }}

),

captures as (

    select * from {{ ref('fct_dataset_captures') }}
    where dataset = 'liquidations'

),

instruments as (

    select * from {{ ref('dim_instruments') }}

),

exchanges as (

    select * from {{ ref('dim_exchanges') }}

),

captured_asset_days as (

    select
        captures.capture_date as liquidation_date,
        captures.exchange_id,
        instruments.base_asset

    from captures

    inner join instruments
        on captures.exchange_id = instruments.exchange_id
        and (captures.is_market_wide or captures.symbol = instruments.symbol)

    group by 1, 2, 3

),

liquidated_asset_days as (

    select
        liquidation_date,
        exchange_id,
        base_asset,
        sum(liquidated_notional_usd order by liquidated_at, liquidation_id) filter (
            where position_side = 'long'
        ) as long_liquidations_usd,
        sum(liquidated_notional_usd order by liquidated_at, liquidation_id) filter (
            where position_side = 'short'
        ) as short_liquidations_usd,
        sum(liquidated_notional_usd order by liquidated_at, liquidation_id)
            as total_liquidations_usd,
        sum(liquidated_qty_coin order by liquidated_at, liquidation_id) filter (
            where position_side = 'long'
        ) as long_liquidations_coin,
        sum(liquidated_qty_coin order by liquidated_at, liquidation_id) filter (
            where position_side = 'short'
        ) as short_liquidations_coin,
        count(*) filter (where position_side = 'long') as long_liquidation_count,
        count(*) filter (where position_side = 'short') as short_liquidation_count,
        count(*) as liquidation_count,
        max(liquidated_notional_usd) as largest_liquidation_usd,
        bool_or(is_sampled_feed) as is_sampled_feed

    from liquidations

    group by 1, 2, 3

),

daily as (

    select
        captured_asset_days.liquidation_date,
        captured_asset_days.exchange_id,
        captured_asset_days.base_asset,
        cast(coalesce(liquidated_asset_days.long_liquidations_usd, 0) as double)
            as long_liquidations_usd,
        cast(coalesce(liquidated_asset_days.short_liquidations_usd, 0) as double)
            as short_liquidations_usd,
        cast(coalesce(liquidated_asset_days.total_liquidations_usd, 0) as double)
            as total_liquidations_usd,
        cast(coalesce(liquidated_asset_days.long_liquidations_coin, 0) as double)
            as long_liquidations_coin,
        cast(coalesce(liquidated_asset_days.short_liquidations_coin, 0) as double)
            as short_liquidations_coin,
        cast(coalesce(liquidated_asset_days.long_liquidation_count, 0) as bigint)
            as long_liquidation_count,
        cast(coalesce(liquidated_asset_days.short_liquidation_count, 0) as bigint)
            as short_liquidation_count,
        cast(coalesce(liquidated_asset_days.liquidation_count, 0) as bigint)
            as liquidation_count,
        cast(coalesce(liquidated_asset_days.largest_liquidation_usd, 0) as double)
            as largest_liquidation_usd,
        coalesce(exchanges.has_sampled_liquidation_feed, false)
            or coalesce(liquidated_asset_days.is_sampled_feed, false) as is_sampled_feed

    from captured_asset_days

    left join exchanges
        on captured_asset_days.exchange_id = exchanges.exchange_id

    left join liquidated_asset_days
        on captured_asset_days.liquidation_date = liquidated_asset_days.liquidation_date
        and captured_asset_days.exchange_id = liquidated_asset_days.exchange_id
        and captured_asset_days.base_asset = liquidated_asset_days.base_asset

)

select * from daily
