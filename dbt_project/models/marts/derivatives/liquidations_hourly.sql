{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail',
        pre_hook = "{{ delete_window(
            'liquidation_date',
            rebuild_if = liquidation_assets_changed(['exchange_id', 'base_asset'])
        ) }}",
    )
}}
{#- The base grain of the liquidation marts (STYLE D5): daily, weekly and monthly roll it up.
    The spine is capture coverage: every hour of every captured (exchange, day) x every base
    asset the capture covers (as liquidations_daily always had it), with the seconds of the
    hour the collector was capturing the stream (fct_liquidation_capture_hours). An hour with
    capture and no liquidation gets zeros. An hour without a second of capture and without a
    landed liquidation gets NULL measures: not captured, never a silent zero. (Liquidations
    can be landed for such an hour, e.g. from OKX's REST back-stop: they are reported, with
    the hour's coverage saying the figure is a lower bound.) Sums are exact decimal sums
    (exact_sum), so a re-run and a full rebuild reproduce them bit for bit.

    Incremental over the run window: a day's hours depend on that day's captures, gaps and
    liquidations only, so a run replaces its window's days; a change in the base assets of an
    exchange (a new listing) rebuilds it whole (liquidation_assets_changed). -#}
{#- the pre-hook's rebuild condition: when it holds, the model reads every day -#}
{%- set rebuild_if = liquidation_assets_changed(['exchange_id', 'base_asset']) -%}
{%- set measures = [
    ('long_liquidations_usd', 'double'),
    ('short_liquidations_usd', 'double'),
    ('total_liquidations_usd', 'double'),
    ('long_liquidations_coin', 'double'),
    ('short_liquidations_coin', 'double'),
    ('long_liquidation_count', 'bigint'),
    ('short_liquidation_count', 'bigint'),
    ('liquidation_count', 'bigint'),
    ('largest_liquidation_usd', 'double'),
] -%}

with

liquidations as (

    select * from {{ ref('fct_liquidations') }}
    where {{ in_refresh('liquidation_date', rebuild_if = rebuild_if) }}

),

captures as (

    select * from {{ ref('fct_dataset_captures') }}
    where dataset = 'liquidations'
        and {{ in_refresh('capture_date', rebuild_if = rebuild_if) }}

),

capture_hours as (

    select * from {{ ref('fct_liquidation_capture_hours') }}
    where {{ in_refresh('capture_date', rebuild_if = rebuild_if) }}

),

instruments as (

    select * from {{ ref('dim_instruments') }}

),

exchanges as (

    select * from {{ ref('dim_exchanges') }}

),

captured_asset_days as (

    select
        captures.capture_date,
        captures.exchange_id,
        instruments.base_asset

    from captures

    inner join instruments
        on captures.exchange_id = instruments.exchange_id
        and (captures.is_market_wide or captures.symbol = instruments.symbol)

    group by 1, 2, 3

),

captured_asset_hours as (

    select
        capture_hours.hour_start_at,
        captured_asset_days.capture_date,
        captured_asset_days.exchange_id,
        captured_asset_days.base_asset,
        capture_hours.captured_seconds,
        capture_hours.capture_coverage_pct,
        capture_hours.has_capture_gap

    from captured_asset_days

    inner join capture_hours
        on captured_asset_days.exchange_id = capture_hours.exchange_id
        and captured_asset_days.capture_date = capture_hours.capture_date

),

liquidated_asset_hours as (

    select
        date_trunc('hour', liquidated_at) as hour_start_at,
        exchange_id,
        base_asset,
        {{ exact_sum('liquidated_notional_usd', where="position_side = 'long'") }}
            as long_liquidations_usd,
        {{ exact_sum('liquidated_notional_usd', where="position_side = 'short'") }}
            as short_liquidations_usd,
        {{ exact_sum('liquidated_notional_usd') }} as total_liquidations_usd,
        {{ exact_sum('liquidated_qty_coin', where="position_side = 'long'") }}
            as long_liquidations_coin,
        {{ exact_sum('liquidated_qty_coin', where="position_side = 'short'") }}
            as short_liquidations_coin,
        -- rounded to 1e-10 as the sums are, so it never exceeds the hour's total
        cast(cast(max(liquidated_notional_usd) as decimal(38, 10)) as double)
            as largest_liquidation_usd,
        count(*) filter (where position_side = 'long') as long_liquidation_count,
        count(*) filter (where position_side = 'short') as short_liquidation_count,
        count(*) as liquidation_count,
        bool_or(is_sampled_feed) as is_sampled_feed

    from liquidations

    group by 1, 2, 3

),

hourly as (

    select
        captured_asset_hours.hour_start_at,
        captured_asset_hours.capture_date as liquidation_date,
        captured_asset_hours.exchange_id,
        captured_asset_hours.base_asset,
        {%- for column, data_type in measures %}
        cast(
            case
                when captured_asset_hours.captured_seconds > 0
                    or liquidated_asset_hours.liquidation_count is not null
                    then coalesce(liquidated_asset_hours.{{ column }}, 0)
            end as {{ data_type }}
        ) as {{ column }},
        {%- endfor %}
        coalesce(exchanges.has_sampled_liquidation_feed, false)
            or coalesce(liquidated_asset_hours.is_sampled_feed, false) as is_sampled_feed,
        captured_asset_hours.captured_seconds,
        captured_asset_hours.capture_coverage_pct,
        captured_asset_hours.has_capture_gap

    from captured_asset_hours

    left join exchanges
        on captured_asset_hours.exchange_id = exchanges.exchange_id

    left join liquidated_asset_hours
        on captured_asset_hours.hour_start_at = liquidated_asset_hours.hour_start_at
        and captured_asset_hours.exchange_id = liquidated_asset_hours.exchange_id
        and captured_asset_hours.base_asset = liquidated_asset_hours.base_asset

)

-- in date order: a window's delete and reads skip the other days' row groups (window.sql)
select * from hourly
order by liquidation_date
