{#- The daily open-interest close is the open interest at the day's last snapshot (per exchange
    and base asset, instruments added up at that instant), and the snapshot count matches the
    facts. One row per mismatching day. Checks the days from the run's window on, the only
    ones a run writes (open_interest_daily also replaces the day after its window), so a
    one-day refresh does not re-read every snapshot of the history. -#}
with

snapshots as (

    select * from {{ ref('fct_open_interest_snapshots') }}
    where snapshot_date >= {{ window_bound('window_start') }}

),

daily as (

    select * from {{ ref('open_interest_daily') }}
    where snapshot_date >= {{ window_bound('window_start') }}

),

last_snapshots as (

    select
        snapshot_date,
        exchange_id,
        base_asset,
        max(snapshot_at) as last_snapshot_at,
        count(distinct snapshot_at) as snapshot_count

    from snapshots

    group by 1, 2, 3

),

expected as (

    select
        last_snapshots.snapshot_date,
        last_snapshots.exchange_id,
        last_snapshots.base_asset,
        last_snapshots.snapshot_count,
        {{ sum_over_instruments('snapshots.open_interest_coin') }} as open_interest_coin_close,
        {{ sum_over_instruments('snapshots.open_interest_usd') }} as open_interest_usd_close

    from last_snapshots

    inner join snapshots
        on last_snapshots.exchange_id = snapshots.exchange_id
        and last_snapshots.base_asset = snapshots.base_asset
        and last_snapshots.last_snapshot_at = snapshots.snapshot_at

    group by 1, 2, 3, 4

)

select
    coalesce(daily.snapshot_date, expected.snapshot_date) as snapshot_date,
    coalesce(daily.exchange_id, expected.exchange_id) as exchange_id,
    coalesce(daily.base_asset, expected.base_asset) as base_asset,
    daily.open_interest_usd_close,
    expected.open_interest_usd_close as expected_open_interest_usd_close

from daily

full outer join expected
    on daily.snapshot_date = expected.snapshot_date
    and daily.exchange_id = expected.exchange_id
    and daily.base_asset = expected.base_asset

where daily.exchange_id is null
    or expected.exchange_id is null
    or daily.snapshot_count != expected.snapshot_count
    or daily.open_interest_coin_close != expected.open_interest_coin_close
    or daily.open_interest_usd_close != expected.open_interest_usd_close
