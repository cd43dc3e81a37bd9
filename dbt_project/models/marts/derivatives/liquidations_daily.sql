{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail',
        pre_hook = "{{ delete_window(
            'liquidation_date',
            days_after = 29,
            rebuild_if = liquidation_assets_changed(['exchange_id', 'base_asset'])
        ) }}",
    )
}}
{#- liquidations_hourly rolled up to UTC days (STYLE D5), so a day's figures are the sums of its
    hours (assert_liquidation_rollups_reconcile checks it). The spine is capture coverage: a
    captured day with no liquidation gets zeros; a day that was not landed gets no row; a
    landed day without a second of capture (every hour inside a collector gap) gets NULL
    measures and capture_coverage_pct 0, never a silent zero.

    Trailing windows: the 24h, 7d and 30d long and short sums end on the row's day and run over
    a dense calendar per exchange x asset (every day from its first row to its last, days
    without a row included as nothing), so a missing day never makes a window reach further
    back. A window without any captured day is NULL; capture_coverage_7d_pct and
    capture_coverage_30d_pct say how much of the window was captured. Sums are exact
    (exact_sum; a day's hours in a fixed order), so a re-run reproduces them bit for bit.

    Incremental over the run window and the 29 days after it, whose trailing windows reach
    back into it; it reads the hours from 29 days before the window on. Like
    liquidations_hourly, a change in an exchange's base assets rebuilds it whole. -#}
{#- the pre-hook's rebuild condition: when it holds, the model reads every day -#}
{%- set rebuild_if = liquidation_assets_changed(['exchange_id', 'base_asset']) -%}
{%- set sums = [
    'long_liquidations_usd', 'short_liquidations_usd', 'total_liquidations_usd',
    'long_liquidations_coin', 'short_liquidations_coin',
] -%}
{%- set counts = ['long_liquidation_count', 'short_liquidation_count', 'liquidation_count'] -%}
{%- set windows = [('7d', 7), ('30d', 30)] -%}
{%- set trailing_days = 30 -%}{#- the longest window (the pre-hook's days_after is 29) -#}

with

hourly as (

    select * from {{ ref('liquidations_hourly') }}
    where {{ in_refresh(
        'liquidation_date',
        days_before = trailing_days - 1,
        days_after = trailing_days - 1,
        rebuild_if = rebuild_if
    ) }}

),

daily as (

    select
        liquidation_date,
        exchange_id,
        base_asset,
        {%- for column in sums %}
        sum({{ column }} order by hour_start_at) as {{ column }},
        {%- endfor %}
        {%- for column in counts %}
        sum({{ column }}) as {{ column }},
        {%- endfor %}
        max(largest_liquidation_usd) as largest_liquidation_usd,
        bool_or(is_sampled_feed) as is_sampled_feed,
        sum(captured_seconds order by hour_start_at) as captured_seconds,
        bool_or(has_capture_gap) as has_capture_gap

    from hourly

    group by 1, 2, 3

),

series_bounds as (

    select
        exchange_id,
        base_asset,
        min(liquidation_date) as first_date,
        max(liquidation_date) as last_date

    from daily

    group by 1, 2

),

day_spine as (

    select
        exchange_id,
        base_asset,
        cast(unnest(generate_series(first_date, last_date, interval 1 day)) as date)
            as spine_date

    from series_bounds

),

dense_days as (

    select
        day_spine.exchange_id,
        day_spine.base_asset,
        day_spine.spine_date,
        daily.long_liquidations_usd,
        daily.short_liquidations_usd,
        coalesce(daily.captured_seconds, 0) as captured_seconds

    from day_spine

    left join daily
        on day_spine.exchange_id = daily.exchange_id
        and day_spine.base_asset = daily.base_asset
        and day_spine.spine_date = daily.liquidation_date

),

trailing_windows as (

    select
        exchange_id,
        base_asset,
        spine_date,
        {%- for horizon, days in windows %}
        {{ exact_sum('long_liquidations_usd', over = 'last_' ~ horizon) }}
            as long_liquidations_{{ horizon }}_usd,
        {{ exact_sum('short_liquidations_usd', over = 'last_' ~ horizon) }}
            as short_liquidations_{{ horizon }}_usd,
        {{ exact_sum('captured_seconds', over = 'last_' ~ horizon) }} / ({{ days }} * 864.0)
            as capture_coverage_{{ horizon }}_pct{{ ',' if not loop.last }}
        {%- endfor %}

    from dense_days

    window
        {%- for horizon, days in windows %}
        last_{{ horizon }} as (
            partition by exchange_id, base_asset
            order by spine_date
            rows between {{ days - 1 }} preceding and current row
        ){{ ',' if not loop.last }}
        {%- endfor %}

),

final as (

    select
        daily.liquidation_date,
        daily.exchange_id,
        daily.base_asset,
        {%- for column in sums %}
        cast(daily.{{ column }} as double) as {{ column }},
        {%- endfor %}
        {%- for column in counts %}
        cast(daily.{{ column }} as bigint) as {{ column }},
        {%- endfor %}
        cast(daily.largest_liquidation_usd as double) as largest_liquidation_usd,
        daily.is_sampled_feed,
        cast(daily.captured_seconds as double) as captured_seconds,
        cast(daily.captured_seconds / 864.0 as double) as capture_coverage_pct,
        daily.has_capture_gap,
        cast(daily.long_liquidations_usd as double) as long_liquidations_24h_usd,
        cast(daily.short_liquidations_usd as double) as short_liquidations_24h_usd,
        {%- for horizon, days in windows %}
        cast(trailing_windows.long_liquidations_{{ horizon }}_usd as double)
            as long_liquidations_{{ horizon }}_usd,
        cast(trailing_windows.short_liquidations_{{ horizon }}_usd as double)
            as short_liquidations_{{ horizon }}_usd,
        {%- endfor %}
        {%- for horizon, days in windows %}
        cast(trailing_windows.capture_coverage_{{ horizon }}_pct as double)
            as capture_coverage_{{ horizon }}_pct{{ ',' if not loop.last }}
        {%- endfor %}

    from daily

    inner join trailing_windows
        on daily.exchange_id = trailing_windows.exchange_id
        and daily.base_asset = trailing_windows.base_asset
        and daily.liquidation_date = trailing_windows.spine_date

)

-- in date order: a window's delete and reads skip the other days' row groups (window.sql)
select * from final
where {{ in_refresh('liquidation_date', days_after = trailing_days - 1, rebuild_if = rebuild_if) }}
order by liquidation_date
