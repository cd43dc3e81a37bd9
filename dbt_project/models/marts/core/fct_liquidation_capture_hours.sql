{#- Capture coverage of each exchange's liquidation stream per UTC hour, for every day the
    stream was landed (fct_dataset_captures): the hour's seconds minus the collector's recorded
    gaps. Gaps are merged per exchange first (gaps-and-islands), so overlapping records (two
    streams, or a gap recorded twice) are counted once. An hour without any gap was captured
    in full; a day without a landing has no hours here (unknown, not uncovered).
    A full rebuild each run: small (exchanges x hours), and the gaps of a day may be landed
    after its liquidations (a gap closes later). -#}
with

captures as (

    select * from {{ ref('fct_dataset_captures') }}
    where dataset = 'liquidations'

),

gaps as (

    select * from {{ ref('int_capture_gaps__unioned') }}

),

captured_days as (

    select distinct
        exchange_id,
        capture_date

    from captures

),

hours as (

    select
        captured_days.exchange_id,
        captured_days.capture_date,
        cast(captured_days.capture_date as timestamp) + to_hours(hour_offsets.hour_offset)
            as hour_start_at

    from captured_days

    cross join range(24) as hour_offsets (hour_offset)

),

ordered_gaps as (

    select
        exchange_id,
        uncovered_start_at,
        uncovered_end_at,
        max(uncovered_end_at) over (
            partition by exchange_id
            order by uncovered_start_at, uncovered_end_at
            rows between unbounded preceding and 1 preceding
        ) as covered_again_at

    from gaps

),

islands as (

    select
        exchange_id,
        uncovered_start_at,
        uncovered_end_at,
        sum(
            case
                when covered_again_at is null or uncovered_start_at > covered_again_at then 1
                else 0
            end
        ) over (
            partition by exchange_id
            order by uncovered_start_at, uncovered_end_at
            rows between unbounded preceding and current row
        ) as island_number

    from ordered_gaps

),

merged_gaps as (

    select
        exchange_id,
        island_number,
        min(uncovered_start_at) as uncovered_start_at,
        max(uncovered_end_at) as uncovered_end_at

    from islands

    group by 1, 2

),

uncovered_hours as (

    select
        hours.exchange_id,
        hours.hour_start_at,
        sum(
            date_diff(
                'millisecond',
                greatest(merged_gaps.uncovered_start_at, hours.hour_start_at),
                least(merged_gaps.uncovered_end_at, hours.hour_start_at + interval 1 hour)
            )
        ) / 1000.0 as uncovered_seconds

    from hours

    inner join merged_gaps
        on hours.exchange_id = merged_gaps.exchange_id
        and merged_gaps.uncovered_start_at < hours.hour_start_at + interval 1 hour
        and merged_gaps.uncovered_end_at > hours.hour_start_at

    group by 1, 2

),

capture_hours as (

    select
        {{ generate_surrogate_key(['hours.exchange_id', 'hours.hour_start_at']) }}
            as capture_hour_id,
        hours.exchange_id,
        hours.capture_date,
        hours.hour_start_at,
        cast(3600 - coalesce(uncovered_hours.uncovered_seconds, 0) as double)
            as captured_seconds,
        cast(coalesce(uncovered_hours.uncovered_seconds, 0) as double) as uncovered_seconds,
        cast((3600 - coalesce(uncovered_hours.uncovered_seconds, 0)) / 36.0 as double)
            as capture_coverage_pct,
        uncovered_hours.uncovered_seconds is not null as has_capture_gap

    from hours

    left join uncovered_hours
        on hours.exchange_id = uncovered_hours.exchange_id
        and hours.hour_start_at = uncovered_hours.hour_start_at

)

select * from capture_hours
