{#- Liquidation cascades: bursts of forced orders far above the asset's recent background.

    1. Liquidated USD per base asset per 5-minute bucket, all venues together, on a dense grid
       of every bucket of every day the liquidation stream was captured, so quiet buckets
       count as 0, with the mean bucket of the previous 24 hours (the 288 buckets before it)
       as its background (int_liquidations__five_minute_buckets).
    2. A bucket is hot when its liquidated USD is at least `floor_usd` (2,000,000) and more
       than `hot_multiple` (10) times its background (a bucket needs at least 144 buckets of
       background, half a day of history). The mean, not the median: on a sampled feed most
       buckets are empty, so the median is 0 and would leave the floor alone to decide.
    3. Hot buckets at most one bucket apart (a gap of one quiet bucket) form one episode.

    Per episode: the liquidations inside [start_at, end_at), split by position side; the price
    move from the average fill price (USD) of the first forced order to that of the last one
    (any venue; forced orders fill at the market, so this traces the price through the
    cascade at minute resolution, which 1h candles cannot); the peak bucket as a rate in USD
    per minute. Binance's feed is sampled, so the USD figures are lower bounds. All of it is
    added up from the episode's buckets, which carry their liquidations' side split, count,
    venues and first and last fills, so the cascades never re-read the liquidations. -#}
{%- set bucket_minutes = 5 -%}
{%- set hot_multiple = 10 -%}
{%- set floor_usd = 2000000 -%}
{%- set min_history_buckets = 144 -%}

with

buckets as (

    select * from {{ ref('int_liquidations__five_minute_buckets') }}

),

hot_buckets as (

    select
        base_asset,
        bucket_start_at,
        liquidated_usd,
        baseline_usd,
        lag(bucket_start_at) over (
            partition by base_asset order by bucket_start_at
        ) as previous_hot_start_at

    from buckets

    where baseline_bucket_count >= {{ min_history_buckets }}
        and liquidated_usd >= {{ floor_usd }}
        and liquidated_usd > {{ hot_multiple }} * baseline_usd

),

episode_numbered as (

    select
        base_asset,
        bucket_start_at,
        liquidated_usd,
        baseline_usd,
        sum(case
            when previous_hot_start_at is null
                or bucket_start_at - previous_hot_start_at
                    > interval {{ 2 * bucket_minutes }} minute
                then 1
            else 0
        end) over (
            partition by base_asset order by bucket_start_at
        ) as episode_number

    from hot_buckets

),

episodes as (

    select
        base_asset,
        episode_number,
        min(bucket_start_at) as start_at,
        max(bucket_start_at) + interval {{ bucket_minutes }} minute as end_at,
        count(*) as hot_bucket_count,
        arg_min(baseline_usd, bucket_start_at) as baseline_bucket_usd,
        max(liquidated_usd) / {{ bucket_minutes }} as peak_liquidation_usd_per_minute

    from episode_numbered

    group by 1, 2

),

episode_buckets as (

    select
        base_asset,
        episode_number,
        unnest(generate_series(
            start_at, end_at - interval {{ bucket_minutes }} minute,
            interval {{ bucket_minutes }} minute
        )) as bucket_start_at

    from episodes

),

episode_totals as (

    select
        episode_buckets.base_asset,
        episode_buckets.episode_number,
        len(list_distinct(flatten(list(buckets.exchange_ids)))) as venues_involved,
        sum(buckets.liquidation_count) as liquidation_count,
        sum(buckets.long_liquidated_usd order by buckets.bucket_start_at)
            as long_liquidations_usd,
        sum(buckets.short_liquidated_usd order by buckets.bucket_start_at)
            as short_liquidations_usd,
        arg_min(buckets.first_fill_price_usd, buckets.bucket_start_at)
            filter (where buckets.liquidation_count > 0) as first_fill_price_usd,
        arg_max(buckets.last_fill_price_usd, buckets.bucket_start_at)
            filter (where buckets.liquidation_count > 0) as last_fill_price_usd

    from episode_buckets

    inner join buckets
        on episode_buckets.base_asset = buckets.base_asset
        and episode_buckets.bucket_start_at = buckets.bucket_start_at

    group by 1, 2

),

final as (

    select
        {{ generate_surrogate_key(['episodes.base_asset', 'episodes.start_at']) }}
            as cascade_id,
        episodes.base_asset,
        episodes.start_at,
        episodes.end_at,
        cast(episodes.start_at as date) as start_date,
        cast(date_diff('minute', episodes.start_at, episodes.end_at) as integer)
            as duration_minutes,
        cast(episodes.hot_bucket_count as integer) as hot_bucket_count,
        cast(episode_totals.venues_involved as integer) as venues_involved,
        cast(episode_totals.liquidation_count as bigint) as liquidation_count,
        cast(coalesce(episode_totals.long_liquidations_usd, 0) as double)
            as long_liquidations_usd,
        cast(coalesce(episode_totals.short_liquidations_usd, 0) as double)
            as short_liquidations_usd,
        case
            when coalesce(episode_totals.long_liquidations_usd, 0)
                >= coalesce(episode_totals.short_liquidations_usd, 0)
                then 'long'
            else 'short'
        end as dominant_side,
        cast(episode_totals.first_fill_price_usd as double) as first_fill_price_usd,
        cast(episode_totals.last_fill_price_usd as double) as last_fill_price_usd,
        cast({{ percent_change(
            'episode_totals.last_fill_price_usd',
            'episode_totals.first_fill_price_usd'
        ) }} as double) as price_move_pct,
        cast(episodes.peak_liquidation_usd_per_minute as double)
            as peak_liquidation_usd_per_minute,
        cast(episodes.baseline_bucket_usd as double) as baseline_bucket_usd

    from episodes

    inner join episode_totals
        on episodes.base_asset = episode_totals.base_asset
        and episodes.episode_number = episode_totals.episode_number

)

select * from final
