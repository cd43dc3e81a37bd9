{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail',
        pre_hook = "{{ delete_window(
            'bucket_date',
            days_after = 1,
            rebuild_if = liquidation_assets_changed(['base_asset'])
        ) }}",
    )
}}
{#- Liquidated USD per base asset per 5-minute bucket, all venues together, on a dense grid of
    every bucket of every day the asset's liquidations were captured (liquidations_hourly's
    days), so quiet buckets count as 0; with each bucket's background: the mean bucket of the
    previous 24 hours (the 288 buckets before it, as many as were captured). The input of
    liquidation_cascades, which keeps the buckets far above their background and adds up an
    episode from its buckets' side split, count, venues and first and last fills, so it never
    reads the liquidations again. Sums and the background are exact decimal arithmetic
    (exact_sum), so a re-run, a refresh and a full rebuild reproduce them bit for bit.

    Incremental over the run window, whose days it follows like liquidations_hourly (a new
    listing rebuilds it whole). A bucket looks back a day, so a run reads one day more before
    its window and replaces one day more after it. -#}
{#- the pre-hook's rebuild condition: when it holds, the model reads every day -#}
{%- set rebuild_if = liquidation_assets_changed(['base_asset']) -%}
{%- set bucket_minutes = 5 -%}

with

liquidations as (

    select * from {{ ref('fct_liquidations') }}
    where {{ in_refresh(
        'liquidation_date', days_before = 1, days_after = 1, rebuild_if = rebuild_if
    ) }}

),

hourly as (

    select * from {{ ref('liquidations_hourly') }}
    where {{ in_refresh(
        'liquidation_date', days_before = 1, days_after = 1, rebuild_if = rebuild_if
    ) }}

),

bucket_grid as (

    select
        captured.base_asset,
        captured.liquidation_date
            + to_minutes(cast(bucket_offset.minute_of_day as bigint)) as bucket_start_at

    from (select distinct liquidation_date, base_asset from hourly) as captured

    cross join (
        select unnest(generate_series(0, 1440 - {{ bucket_minutes }}, {{ bucket_minutes }}))
            as minute_of_day
    ) as bucket_offset

),

liquidated_buckets as (

    select
        base_asset,
        time_bucket(interval {{ bucket_minutes }} minute, liquidated_at) as bucket_start_at,
        {{ exact_sum('liquidated_notional_usd') }} as liquidated_usd,
        {{ exact_sum('liquidated_notional_usd', where="position_side = 'long'") }}
            as long_liquidated_usd,
        {{ exact_sum('liquidated_notional_usd', where="position_side = 'short'") }}
            as short_liquidated_usd,
        count(*) as liquidation_count,
        list_sort(list(distinct exchange_id)) as exchange_ids,
        arg_min(
            avg_fill_price_quote * usd_per_quote_unit, (liquidated_at, liquidation_id)
        ) as first_fill_price_usd,
        arg_max(
            avg_fill_price_quote * usd_per_quote_unit, (liquidated_at, liquidation_id)
        ) as last_fill_price_usd

    from liquidations

    group by 1, 2

),

buckets as (

    select
        bucket_grid.base_asset,
        bucket_grid.bucket_start_at,
        coalesce(liquidated_buckets.liquidated_usd, 0) as liquidated_usd,
        coalesce(liquidated_buckets.long_liquidated_usd, 0) as long_liquidated_usd,
        coalesce(liquidated_buckets.short_liquidated_usd, 0) as short_liquidated_usd,
        coalesce(liquidated_buckets.liquidation_count, 0) as liquidation_count,
        coalesce(liquidated_buckets.exchange_ids, []) as exchange_ids,
        liquidated_buckets.first_fill_price_usd,
        liquidated_buckets.last_fill_price_usd

    from bucket_grid

    left join liquidated_buckets
        on bucket_grid.base_asset = liquidated_buckets.base_asset
        and bucket_grid.bucket_start_at = liquidated_buckets.bucket_start_at

),

baselined as (

    select
        base_asset,
        bucket_start_at,
        cast(bucket_start_at as date) as bucket_date,
        cast(liquidated_usd as double) as liquidated_usd,
        cast(long_liquidated_usd as double) as long_liquidated_usd,
        cast(short_liquidated_usd as double) as short_liquidated_usd,
        cast(liquidation_count as bigint) as liquidation_count,
        cast(exchange_ids as varchar[]) as exchange_ids,
        cast(first_fill_price_usd as double) as first_fill_price_usd,
        cast(last_fill_price_usd as double) as last_fill_price_usd,
        -- a mean of exact decimals (to the micro-dollar): a window's float sum depends on how
        -- DuckDB splits the frame, which differs between a refresh and a full rebuild
        cast(avg(cast(liquidated_usd as decimal(38, 6))) over previous_day as double)
            as baseline_usd,
        cast(count(*) over previous_day as integer) as baseline_bucket_count

    from buckets

    window previous_day as (
        partition by base_asset
        order by bucket_start_at
        range between interval 1 day preceding and interval {{ bucket_minutes }} minute preceding
    )

)

-- in date order: a window's delete and reads skip the other days' row groups (window.sql)
select * from baselined
where {{ in_refresh('bucket_date', days_after = 1, rebuild_if = rebuild_if) }}
order by bucket_date
