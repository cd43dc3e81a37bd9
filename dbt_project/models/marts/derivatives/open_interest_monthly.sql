{#- Rolled up from open_interest_daily (STYLE D5). A stock, so never summed over time:
    close = the close of the last day with data in the month; avg = the mean of the daily
    averages (each day weighs the same, whatever its snapshot count); min / max = the extremes
    of the daily min / max (means in date order, so re-runs reproduce them bit for bit). The
    change compares the close with the previous month's close. -#}
{%- set grain = 'month' -%}

with

daily as (

    select * from {{ ref('open_interest_daily') }}

),

rolled_up as (

    select
        {{ period_start_date('snapshot_date', grain) }} as month_start_date,
        exchange_id,
        base_asset,
        arg_max(open_interest_coin_close, snapshot_date) as open_interest_coin_close,
        avg(open_interest_coin_avg order by snapshot_date) as open_interest_coin_avg,
        min(open_interest_coin_min) as open_interest_coin_min,
        max(open_interest_coin_max) as open_interest_coin_max,
        arg_max(open_interest_usd_close, snapshot_date) as open_interest_usd_close,
        avg(open_interest_usd_avg order by snapshot_date) as open_interest_usd_avg,
        min(open_interest_usd_min) as open_interest_usd_min,
        max(open_interest_usd_max) as open_interest_usd_max,
        sum(snapshot_count) as snapshot_count,
        count(*) as days_with_data

    from daily

    group by 1, 2, 3

),

with_previous as (

    select
        month_start_date,
        exchange_id,
        base_asset,
        open_interest_coin_close,
        open_interest_coin_avg,
        open_interest_coin_min,
        open_interest_coin_max,
        open_interest_usd_close,
        open_interest_usd_avg,
        open_interest_usd_min,
        open_interest_usd_max,
        snapshot_count,
        days_with_data,
        lag(month_start_date) over previous_period as previous_month_start_date,
        lag(open_interest_coin_close) over previous_period as previous_open_interest_coin_close,
        lag(open_interest_usd_close) over previous_period as previous_open_interest_usd_close

    from rolled_up

    window previous_period as (partition by exchange_id, base_asset order by month_start_date)

),

final as (

    select
        month_start_date,
        exchange_id,
        base_asset,
        cast(open_interest_coin_close as double) as open_interest_coin_close,
        cast(open_interest_coin_avg as double) as open_interest_coin_avg,
        cast(open_interest_coin_min as double) as open_interest_coin_min,
        cast(open_interest_coin_max as double) as open_interest_coin_max,
        cast(open_interest_usd_close as double) as open_interest_usd_close,
        cast(open_interest_usd_avg as double) as open_interest_usd_avg,
        cast(open_interest_usd_min as double) as open_interest_usd_min,
        cast(open_interest_usd_max as double) as open_interest_usd_max,
        cast(snapshot_count as bigint) as snapshot_count,
        cast(case
            when previous_month_start_date
                = {{ previous_period_start_date('month_start_date', grain) }}
                then {{ percent_change('open_interest_usd_close', 'previous_open_interest_usd_close') }}
        end as double) as open_interest_usd_change_pct,
        cast(case
            when previous_month_start_date
                = {{ previous_period_start_date('month_start_date', grain) }}
                then {{ percent_change('open_interest_coin_close', 'previous_open_interest_coin_close') }}
        end as double) as open_interest_coin_change_pct,
        cast({{ period_length_days('month_start_date', grain) }} as integer) as days_in_period,
        cast(days_with_data as integer) as days_with_data,
        days_with_data = {{ period_length_days('month_start_date', grain) }}
            as is_complete_period

    from with_previous

)

select * from final
