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
    per minute. Binance's feed is sampled, so the USD figures are lower bounds. -#}
{%- set bucket_minutes = 5 -%}
{%- set hot_multiple = 10 -%}
{%- set floor_usd = 2000000 -%}
{%- set min_history_buckets = 144 -%}

with

liquidations as (

    select * from {{ ref('fct_liquidations') }}

),

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

episode_days as (

    select distinct
        base_asset,
        cast(bucket_start_at as date) as liquidation_date

    from episode_buckets

),

liquidations_in_episode_days as (

    select
        liquidations.*,
        time_bucket(interval {{ bucket_minutes }} minute, liquidations.liquidated_at)
            as bucket_start_at

    from liquidations

    semi join episode_days
        on liquidations.base_asset = episode_days.base_asset
        and liquidations.liquidation_date = episode_days.liquidation_date

),

episode_liquidations as (

    select
        episodes.base_asset,
        episodes.episode_number,
        count(distinct liquidations.exchange_id) as venues_involved,
        count(*) as liquidation_count,
        sum(liquidations.liquidated_notional_usd
            order by liquidations.liquidated_at, liquidations.liquidation_id) filter (
            where liquidations.position_side = 'long'
        ) as long_liquidations_usd,
        sum(liquidations.liquidated_notional_usd
            order by liquidations.liquidated_at, liquidations.liquidation_id) filter (
            where liquidations.position_side = 'short'
        ) as short_liquidations_usd,
        arg_min(
            liquidations.avg_fill_price_quote * liquidations.usd_per_quote_unit,
            (liquidations.liquidated_at, liquidations.liquidation_id)
        ) as first_fill_price_usd,
        arg_max(
            liquidations.avg_fill_price_quote * liquidations.usd_per_quote_unit,
            (liquidations.liquidated_at, liquidations.liquidation_id)
        ) as last_fill_price_usd

    from episode_buckets as episodes

    inner join liquidations_in_episode_days as liquidations
        on episodes.base_asset = liquidations.base_asset
        and episodes.bucket_start_at = liquidations.bucket_start_at

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
        cast(episode_liquidations.venues_involved as integer) as venues_involved,
        cast(episode_liquidations.liquidation_count as bigint) as liquidation_count,
        cast(coalesce(episode_liquidations.long_liquidations_usd, 0) as double)
            as long_liquidations_usd,
        cast(coalesce(episode_liquidations.short_liquidations_usd, 0) as double)
            as short_liquidations_usd,
        case
            when coalesce(episode_liquidations.long_liquidations_usd, 0)
                >= coalesce(episode_liquidations.short_liquidations_usd, 0)
                then 'long'
            else 'short'
        end as dominant_side,
        cast(episode_liquidations.first_fill_price_usd as double) as first_fill_price_usd,
        cast(episode_liquidations.last_fill_price_usd as double) as last_fill_price_usd,
        cast({{ percent_change(
            'episode_liquidations.last_fill_price_usd',
            'episode_liquidations.first_fill_price_usd'
        ) }} as double) as price_move_pct,
        cast(episodes.peak_liquidation_usd_per_minute as double)
            as peak_liquidation_usd_per_minute,
        cast(episodes.baseline_bucket_usd as double) as baseline_bucket_usd

    from episodes

    inner join episode_liquidations
        on episodes.base_asset = episode_liquidations.base_asset
        and episodes.episode_number = episode_liquidations.episode_number

)

select * from final
