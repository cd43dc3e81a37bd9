-- The floor: the seven analyst-facing marts computed by ONE hand-written DuckDB script straight
-- from the raw parquet lake and its landing manifests, with no dbt, no staging views, no
-- incremental facts and no tests. It keeps every semantic the dbt models have (dedup rules,
-- closed candles only, the capture spine of liquidations_daily, USD conversion from the seed,
-- ordered floating-point sums so a re-run gives the same bits), so the time dbt takes above
-- this is what the framework, the layering and the tests cost.
--
-- Variables (SET VARIABLE before running): raw_dir, manifest_dir, seeds_dir.

create or replace temp macro base_asset(symbol) as
    nullif(regexp_extract(symbol, '^(.+?)(USDT|USDC)(_[0-9]{6})?$', 1), '');

create or replace temp macro quote_asset(symbol) as
    nullif(regexp_extract(symbol, '^(.+?)(USDT|USDC)(_[0-9]{6})?$', 2), '');

create or replace temp table quote_usd_rates as
select quote_asset, usd_per_quote_unit
from read_csv(getvariable('seeds_dir') || '/quote_asset_usd_rates.csv', header = true);

create or replace temp table exchanges as
select exchange_id, has_sampled_liquidation_feed
from read_csv(getvariable('seeds_dir') || '/exchanges.csv', header = true);

create or replace temp table manifests as
select
    venue as exchange_id,
    dataset,
    part,
    day as capture_date,
    coalesce(
        list_min(list_transform(sources, lambda s: cast(s.fetched_at as timestamptz))),
        cast(landed_at as timestamptz)
    ) at time zone 'UTC' as fetched_at
-- only the manifests the marts need: daily candles (closed or not) and the liquidation stream
from read_json(
    [
        getvariable('manifest_dir') || '/binance/klines/dt=*/*-1d.json',
        getvariable('manifest_dir') || '/binance/liquidations/dt=*/*.json'
    ],
    format = 'auto',
    hive_partitioning = false,
    columns = {
        venue: 'varchar', dataset: 'varchar', day: 'date', part: 'varchar',
        landed_at: 'varchar', sources: 'struct(uri varchar, sha256 varchar, fetched_at varchar)[]'
    }
);

-- Liquidations: one row per distinct forced order (a re-sent websocket message is the same
-- order), filled ones only, in USD.
create or replace temp table liquidations as
select
    'binance' as exchange_id,
    liq.symbol,
    base_asset(liq.symbol) as base_asset,
    case upper(liq.order_side) when 'SELL' then 'long' when 'BUY' then 'short' end
        as position_side,
    liq.filled_qty as qty_coin,
    liq.filled_qty * liq.avg_price * rates.usd_per_quote_unit as notional_usd,
    liq.trade_time,
    cast(liq.trade_time as date) as liquidation_date
from (
    select distinct symbol, order_side, filled_qty, avg_price, trade_time
    from read_parquet(getvariable('raw_dir') || '/binance/liquidations/dt=*/*.parquet')
) as liq
left join quote_usd_rates as rates on quote_asset(liq.symbol) = rates.quote_asset
where liq.filled_qty > 0;

-- Open interest: one snapshot per symbol and time, first by source, in USD.
create or replace temp table open_interest as
select
    'binance' as exchange_id,
    oi.symbol,
    base_asset(oi.symbol) as base_asset,
    oi.snapshot_at,
    cast(oi.snapshot_at as date) as snapshot_date,
    oi.open_interest_base as open_interest_coin,
    oi.open_interest_quote * rates.usd_per_quote_unit as open_interest_usd
from read_parquet(getvariable('raw_dir') || '/binance/open_interest/dt=*/*.parquet') as oi
left join quote_usd_rates as rates on quote_asset(oi.symbol) = rates.quote_asset
qualify row_number() over (
    partition by oi.symbol, oi.snapshot_at
    order by oi._source, oi.open_interest_base, oi.open_interest_quote
) = 1;

-- Daily candles that had closed when fetched (per the day file's manifest), in USD.
create or replace temp table daily_candles as
select
    'binance' as exchange_id,
    k.symbol,
    base_asset(k.symbol) as base_asset,
    cast(k.open_time as date) as price_date,
    k.open_price * rates.usd_per_quote_unit as open_usd,
    k.high_price * rates.usd_per_quote_unit as high_usd,
    k.low_price * rates.usd_per_quote_unit as low_usd,
    k.close_price * rates.usd_per_quote_unit as close_usd,
    k.volume_base as volume_coin,
    k.volume_quote * rates.usd_per_quote_unit as volume_usd
from read_parquet(
    getvariable('raw_dir') || '/binance/klines/dt=*/*-1d.parquet', hive_partitioning = true
) as k
inner join manifests as m
    on m.dataset = 'klines'
    and m.part = k.symbol || '-1d'
    and m.capture_date = k.dt
left join quote_usd_rates as rates on quote_asset(k.symbol) = rates.quote_asset
where k.close_time < m.fetched_at
qualify row_number() over (
    partition by k.symbol, k.open_time
    order by k._source, k.close_price, k.volume_base, k.high_price, k.low_price, k.open_price
) = 1;

-- The base assets the exchange was seen trading (dim_instruments' assets).
create or replace temp table assets as
select distinct exchange_id, base_asset from daily_candles
union
select distinct exchange_id, base_asset from open_interest
union
select distinct 'binance', base_asset(symbol)
from read_parquet(getvariable('raw_dir') || '/binance/funding/dt=*/*.parquet')
union
select distinct exchange_id, base_asset from liquidations;

create or replace table liquidations_daily as
with
spine as (
    select distinct m.capture_date as liquidation_date, m.exchange_id, a.base_asset
    from manifests as m
    inner join assets as a on m.exchange_id = a.exchange_id
    where m.dataset = 'liquidations' and m.part = 'all'
),
per_day as (
    select
        liquidation_date,
        exchange_id,
        base_asset,
        sum(notional_usd order by trade_time, symbol, qty_coin, notional_usd)
            filter (where position_side = 'long') as long_usd,
        sum(notional_usd order by trade_time, symbol, qty_coin, notional_usd)
            filter (where position_side = 'short') as short_usd,
        sum(notional_usd order by trade_time, symbol, qty_coin, notional_usd) as total_usd,
        sum(qty_coin order by trade_time, symbol, qty_coin, notional_usd)
            filter (where position_side = 'long') as long_coin,
        sum(qty_coin order by trade_time, symbol, qty_coin, notional_usd)
            filter (where position_side = 'short') as short_coin,
        count(*) filter (where position_side = 'long') as long_count,
        count(*) filter (where position_side = 'short') as short_count,
        count(*) as total_count,
        max(notional_usd) as largest_usd
    from liquidations
    group by all
)
select
    spine.liquidation_date,
    spine.exchange_id,
    spine.base_asset,
    coalesce(per_day.long_usd, 0)::double as long_liquidations_usd,
    coalesce(per_day.short_usd, 0)::double as short_liquidations_usd,
    coalesce(per_day.total_usd, 0)::double as total_liquidations_usd,
    coalesce(per_day.long_coin, 0)::double as long_liquidations_coin,
    coalesce(per_day.short_coin, 0)::double as short_liquidations_coin,
    coalesce(per_day.long_count, 0)::bigint as long_liquidation_count,
    coalesce(per_day.short_count, 0)::bigint as short_liquidation_count,
    coalesce(per_day.total_count, 0)::bigint as liquidation_count,
    coalesce(per_day.largest_usd, 0)::double as largest_liquidation_usd,
    -- every Binance row comes from the sampled feed, so the exchange flag decides
    coalesce(exchanges.has_sampled_liquidation_feed, false)
        or per_day.total_count is not null as is_sampled_feed
from spine
left join exchanges using (exchange_id)
left join per_day using (liquidation_date, exchange_id, base_asset);

create or replace temp macro liquidation_rollup(grain) as table
select
    cast(date_trunc(grain, liquidation_date) as date) as period_start_date,
    exchange_id,
    base_asset,
    sum(long_liquidations_usd order by liquidation_date)::double as long_liquidations_usd,
    sum(short_liquidations_usd order by liquidation_date)::double as short_liquidations_usd,
    sum(total_liquidations_usd order by liquidation_date)::double as total_liquidations_usd,
    sum(long_liquidations_coin order by liquidation_date)::double as long_liquidations_coin,
    sum(short_liquidations_coin order by liquidation_date)::double as short_liquidations_coin,
    sum(long_liquidation_count)::bigint as long_liquidation_count,
    sum(short_liquidation_count)::bigint as short_liquidation_count,
    sum(liquidation_count)::bigint as liquidation_count,
    max(largest_liquidation_usd)::double as largest_liquidation_usd,
    bool_or(is_sampled_feed) as is_sampled_feed,
    (case grain when 'week' then 7 else day(last_day(min(liquidation_date))) end)::integer
        as days_in_period,
    count(*)::integer as days_with_data,
    count(*) = (case grain when 'week' then 7 else day(last_day(min(liquidation_date))) end)
        as is_complete_period
from liquidations_daily
group by all;

create or replace table liquidations_weekly as
select * rename (period_start_date as week_start_date) from liquidation_rollup('week');

create or replace table liquidations_monthly as
select * rename (period_start_date as month_start_date) from liquidation_rollup('month');

create or replace table open_interest_daily as
with
per_asset as (
    select
        exchange_id,
        base_asset,
        snapshot_at,
        snapshot_date,
        sum(open_interest_coin order by symbol) as coin,
        sum(open_interest_usd order by symbol) as usd
    from open_interest
    group by all
),
per_day as (
    select
        snapshot_date,
        exchange_id,
        base_asset,
        arg_max(coin, snapshot_at) as coin_close,
        avg(coin order by snapshot_at) as coin_avg,
        min(coin) as coin_min,
        max(coin) as coin_max,
        arg_max(usd, snapshot_at) as usd_close,
        avg(usd order by snapshot_at) as usd_avg,
        min(usd) as usd_min,
        max(usd) as usd_max,
        count(*) as snapshot_count
    from per_asset
    group by all
)
select
    snapshot_date,
    exchange_id,
    base_asset,
    coin_close::double as open_interest_coin_close,
    coin_avg::double as open_interest_coin_avg,
    coin_min::double as open_interest_coin_min,
    coin_max::double as open_interest_coin_max,
    usd_close::double as open_interest_usd_close,
    usd_avg::double as open_interest_usd_avg,
    usd_min::double as open_interest_usd_min,
    usd_max::double as open_interest_usd_max,
    snapshot_count::bigint as snapshot_count,
    (case when lag(snapshot_date) over w = snapshot_date - 1
        then (usd_close / nullif(lag(usd_close) over w, 0) - 1) * 100 end)::double
        as open_interest_usd_change_pct,
    (case when lag(snapshot_date) over w = snapshot_date - 1
        then (coin_close / nullif(lag(coin_close) over w, 0) - 1) * 100 end)::double
        as open_interest_coin_change_pct
from per_day
window w as (partition by exchange_id, base_asset order by snapshot_date);

create or replace temp macro open_interest_rollup(grain) as table
with
rolled_up as (
    select
        cast(date_trunc(grain, snapshot_date) as date) as period_start_date,
        exchange_id,
        base_asset,
        arg_max(open_interest_coin_close, snapshot_date) as coin_close,
        avg(open_interest_coin_avg order by snapshot_date) as coin_avg,
        min(open_interest_coin_min) as coin_min,
        max(open_interest_coin_max) as coin_max,
        arg_max(open_interest_usd_close, snapshot_date) as usd_close,
        avg(open_interest_usd_avg order by snapshot_date) as usd_avg,
        min(open_interest_usd_min) as usd_min,
        max(open_interest_usd_max) as usd_max,
        sum(snapshot_count) as snapshot_count,
        count(*) as days_with_data
    from open_interest_daily
    group by all
),
with_length as (
    select
        *,
        case grain when 'week' then 7 else day(last_day(period_start_date)) end as days_in_period,
        case grain
            when 'week' then period_start_date - 7
            else cast(period_start_date - interval 1 month as date)
        end as previous_period_start_date
    from rolled_up
)
select
    period_start_date,
    exchange_id,
    base_asset,
    coin_close::double as open_interest_coin_close,
    coin_avg::double as open_interest_coin_avg,
    coin_min::double as open_interest_coin_min,
    coin_max::double as open_interest_coin_max,
    usd_close::double as open_interest_usd_close,
    usd_avg::double as open_interest_usd_avg,
    usd_min::double as open_interest_usd_min,
    usd_max::double as open_interest_usd_max,
    snapshot_count::bigint as snapshot_count,
    (case when lag(period_start_date) over w = previous_period_start_date
        then (usd_close / nullif(lag(usd_close) over w, 0) - 1) * 100 end)::double
        as open_interest_usd_change_pct,
    (case when lag(period_start_date) over w = previous_period_start_date
        then (coin_close / nullif(lag(coin_close) over w, 0) - 1) * 100 end)::double
        as open_interest_coin_change_pct,
    days_in_period::integer as days_in_period,
    days_with_data::integer as days_with_data,
    days_with_data = days_in_period as is_complete_period
from with_length
window w as (partition by exchange_id, base_asset order by period_start_date);

create or replace table open_interest_weekly as
select * rename (period_start_date as week_start_date) from open_interest_rollup('week');

create or replace table open_interest_monthly as
select * rename (period_start_date as month_start_date) from open_interest_rollup('month');

create or replace table prices_daily as
with
per_day as (
    select
        price_date,
        exchange_id,
        base_asset,
        arg_max(open_usd, (volume_usd, symbol_rank)) as open_usd,
        arg_max(high_usd, (volume_usd, symbol_rank)) as high_usd,
        arg_max(low_usd, (volume_usd, symbol_rank)) as low_usd,
        arg_max(close_usd, (volume_usd, symbol_rank)) as close_usd,
        sum(volume_coin order by symbol) as volume_coin,
        sum(volume_usd order by symbol) as volume_usd
    from (
        select *, -dense_rank() over (order by symbol) as symbol_rank from daily_candles
    )
    group by all
)
select
    price_date,
    exchange_id,
    base_asset,
    open_usd::double as open_usd,
    high_usd::double as high_usd,
    low_usd::double as low_usd,
    close_usd::double as close_usd,
    volume_coin::double as volume_coin,
    volume_usd::double as volume_usd,
    (case when lag(price_date) over w = price_date - 1
        then (close_usd / nullif(lag(close_usd) over w, 0) - 1) * 100 end)::double as change_pct
from per_day
window w as (partition by exchange_id, base_asset order by price_date);
