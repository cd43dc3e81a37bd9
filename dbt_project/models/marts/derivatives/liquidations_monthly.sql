{#- Rolled up from liquidations_daily (STYLE D5), so the month's figures are the sums of its
    days (the singular test assert_liquidation_rollups_reconcile checks it). Sums run in date
    order, so a re-run reproduces them bit for bit. Coverage: captured_seconds over the whole
    period's seconds (days not landed count as not captured); has_capture_gap flags a collector
    gap inside the landed days. -#}
{%- set grain = 'month' -%}

with

daily as (

    select * from {{ ref('liquidations_daily') }}

),

rolled_up as (

    select
        {{ period_start_date('liquidation_date', grain) }} as month_start_date,
        exchange_id,
        base_asset,
        sum(long_liquidations_usd order by liquidation_date) as long_liquidations_usd,
        sum(short_liquidations_usd order by liquidation_date) as short_liquidations_usd,
        sum(total_liquidations_usd order by liquidation_date) as total_liquidations_usd,
        sum(long_liquidations_coin order by liquidation_date) as long_liquidations_coin,
        sum(short_liquidations_coin order by liquidation_date) as short_liquidations_coin,
        sum(long_liquidation_count) as long_liquidation_count,
        sum(short_liquidation_count) as short_liquidation_count,
        sum(liquidation_count) as liquidation_count,
        max(largest_liquidation_usd) as largest_liquidation_usd,
        bool_or(is_sampled_feed) as is_sampled_feed,
        sum(captured_seconds order by liquidation_date) as captured_seconds,
        bool_or(has_capture_gap) as has_capture_gap,
        count(*) as days_with_data

    from daily

    group by 1, 2, 3

),

final as (

    select
        month_start_date,
        exchange_id,
        base_asset,
        cast(long_liquidations_usd as double) as long_liquidations_usd,
        cast(short_liquidations_usd as double) as short_liquidations_usd,
        cast(total_liquidations_usd as double) as total_liquidations_usd,
        cast(long_liquidations_coin as double) as long_liquidations_coin,
        cast(short_liquidations_coin as double) as short_liquidations_coin,
        cast(long_liquidation_count as bigint) as long_liquidation_count,
        cast(short_liquidation_count as bigint) as short_liquidation_count,
        cast(liquidation_count as bigint) as liquidation_count,
        cast(largest_liquidation_usd as double) as largest_liquidation_usd,
        is_sampled_feed,
        cast(captured_seconds as double) as captured_seconds,
        cast(
            captured_seconds / ({{ period_length_days('month_start_date', grain) }} * 864.0)
            as double
        ) as capture_coverage_pct,
        has_capture_gap,
        cast({{ period_length_days('month_start_date', grain) }} as integer) as days_in_period,
        cast(days_with_data as integer) as days_with_data,
        days_with_data = {{ period_length_days('month_start_date', grain) }}
            as is_complete_period

    from rolled_up

)

select * from final
