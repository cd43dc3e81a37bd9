{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail',
        pre_hook = "{{ delete_window('snapshot_date', days_after = 1) }}",
    )
}}
{#- Open interest is a stock: per day it takes the close (last snapshot), avg, min and max, and
    it is never summed over time. Instruments of the same base asset on an exchange (e.g.
    BTCUSDT and BTCUSDC) are added up per snapshot time first: that IS a sum over instruments
    at one instant, not over time. Sums and means are exact decimal arithmetic (exact_sum,
    sum_over_instruments), so a re-run reproduces them bit for bit whatever order a parallel
    aggregate adds in; an ORDER BY inside the aggregates did the same 3 x slower (at 2y the
    slowest mart, docs/benchmarks.md).

    Incremental over the run window: a day's row needs that day's snapshots and the day
    before's close (the change), so a run reads one day more before its window, and replaces
    one day more after it (that day's change looks back into the window). -#}
with

snapshots as (

    select * from {{ ref('fct_open_interest_snapshots') }}
    where {{ in_refresh('snapshot_date', days_before = 1, days_after = 1) }}

),

asset_snapshots as (

    select
        exchange_id,
        base_asset,
        snapshot_at,
        snapshot_date,
        {{ sum_over_instruments('open_interest_coin') }} as open_interest_coin,
        {{ sum_over_instruments('open_interest_usd') }} as open_interest_usd

    from snapshots

    group by 1, 2, 3, 4

),

daily as (

    select
        snapshot_date,
        exchange_id,
        base_asset,
        arg_max(open_interest_coin, snapshot_at) as open_interest_coin_close,
        {{ exact_sum('open_interest_coin') }} / count(*) as open_interest_coin_avg,
        min(open_interest_coin) as open_interest_coin_min,
        max(open_interest_coin) as open_interest_coin_max,
        arg_max(open_interest_usd, snapshot_at) as open_interest_usd_close,
        {{ exact_sum('open_interest_usd') }} / count(*) as open_interest_usd_avg,
        min(open_interest_usd) as open_interest_usd_min,
        max(open_interest_usd) as open_interest_usd_max,
        count(*) as snapshot_count

    from asset_snapshots

    group by 1, 2, 3

),

with_previous as (

    select
        snapshot_date,
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
        lag(snapshot_date) over previous_day as previous_snapshot_date,
        lag(open_interest_coin_close) over previous_day as previous_open_interest_coin_close,
        lag(open_interest_usd_close) over previous_day as previous_open_interest_usd_close

    from daily

    window previous_day as (partition by exchange_id, base_asset order by snapshot_date)

),

final as (

    select
        snapshot_date,
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
            when previous_snapshot_date = {{ previous_period_start_date('snapshot_date', 'day') }}
                then {{ percent_change('open_interest_usd_close', 'previous_open_interest_usd_close') }}
        end as double) as open_interest_usd_change_pct,
        cast(case
            when previous_snapshot_date = {{ previous_period_start_date('snapshot_date', 'day') }}
                then {{ percent_change('open_interest_coin_close', 'previous_open_interest_coin_close') }}
        end as double) as open_interest_coin_change_pct

    from with_previous

)

-- in date order: a window's delete and reads skip the other days' row groups (window.sql)
select * from final
where {{ in_refresh('snapshot_date', days_after = 1) }}
order by snapshot_date
