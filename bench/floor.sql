-- The floor: the seven analyst-facing marts computed by ONE hand-written DuckDB script straight
-- from the raw parquet lake of the three venues (Binance, Bybit, OKX) and its landing
-- manifests, with no dbt, no staging views, no incremental facts and no tests. It keeps every
-- semantic the dbt models have that the marts' figures depend on (each venue's staging
-- normalisation: Binance's forced-order side, Bybit's position side, two-sided open interest
-- halved and priced from its hourly candles, OKX contracts x contract value; dedup rules,
-- closed candles only, the capture spine of liquidations_daily, USD conversion from the seed,
-- exact decimal sums so a re-run gives the same bits), so the time dbt takes above
-- this is what the framework, the layering and the tests cost. Left out: the collector's
-- capture coverage (liquidations_hourly and the coverage / trailing-window columns), which
-- only dbt builds.
--
-- Variables (SET VARIABLE before running): raw_dir, manifest_dir, seeds_dir.

create or replace temp macro raw(venue, dataset) as
    getvariable('raw_dir') || '/' || venue || '/' || dataset || '/dt=*/*.parquet';

-- Bybit's dated linear futures carry a -DDMMMYY suffix (BTCUSDT-26MAR27); the assets rule
-- reads the symbol without it.
create or replace temp macro undated(symbol) as
    regexp_replace(symbol, '-[0-9]{2}[A-Z]{3}[0-9]{2}$', '');

-- Sums whose bits do not depend on the order rows arrive in: exact 128-bit decimal sums (of the
-- rows where `condition` holds, like dbt's exact_sum(where=...)); over the instruments of one
-- asset at one instant, the value itself when there is one.
create or replace temp macro exact_sum(x, condition := true) as
    sum(case when condition then x::decimal(38, 10) end)::double;
create or replace temp macro instrument_sum(x) as
    case when count(*) = 1 then any_value(x) else exact_sum(x) end;

create or replace temp macro base_asset(symbol) as
    nullif(regexp_extract(symbol, '^(.+?)(USDT|USDC)(_[0-9]{6})?$', 1), '');

create or replace temp macro quote_asset(symbol) as
    nullif(regexp_extract(symbol, '^(.+?)(USDT|USDC)(_[0-9]{6})?$', 2), '');

-- OKX names instruments BTC-USDT-SWAP (or the family BTC-USDT): the warehouse says BTCUSDT.
create or replace temp macro okx_symbol(inst) as split_part(inst, '-', 1) || split_part(inst, '-', 2);

create or replace temp table quote_usd_rates as
select quote_asset, usd_per_quote_unit
from read_csv(getvariable('seeds_dir') || '/quote_asset_usd_rates.csv', header = true);

create or replace temp table exchanges as
select exchange_id, has_sampled_liquidation_feed
from read_csv(getvariable('seeds_dir') || '/exchanges.csv', header = true);

-- Only the manifests the marts need (daily candles, closed or not, and the liquidation
-- streams), each file read as text and parsed: read_json's per-file set-up costs more than the
-- parsing on thousands of small files.
create or replace temp table manifests as
select
    doc.venue as exchange_id,
    doc.dataset,
    doc.part,
    doc.day as capture_date,
    coalesce(
        list_min(list_transform(doc.sources, lambda s: cast(s.fetched_at as timestamptz))),
        cast(doc.landed_at as timestamptz)
    ) at time zone 'UTC' as fetched_at
from (
    select json_transform(
        content,
        '{"venue": "VARCHAR", "dataset": "VARCHAR", "day": "DATE", "part": "VARCHAR",
          "landed_at": "VARCHAR", "sources": [{"fetched_at": "VARCHAR"}]}'
    ) as doc
    from read_text([
        getvariable('manifest_dir') || '/*/klines/dt=*/*-1d.json',
        getvariable('manifest_dir') || '/*/liquidations/dt=*/*.json'
    ])
);

-- Liquidations of the three venues in one shape: the liquidated position's side, the
-- quantity in coin and the notional in the quote asset.
create or replace temp table binance_liquidations as
-- one row per distinct forced order (a re-sent websocket message is the same order); the side
-- is the forced ORDER's: a SELL liquidates a long
select
    'binance' as exchange_id,
    symbol,
    case upper(order_side) when 'SELL' then 'long' when 'BUY' then 'short' end as position_side,
    filled_qty as qty_coin,
    filled_qty * avg_price as notional_quote,
    trade_time
from (
    select distinct symbol, order_side, filled_qty, avg_price, trade_time
    from read_parquet(raw('binance', 'liquidations'), union_by_name = true)
);

create or replace temp table bybit_liquidations as
-- every row is a liquidation; `side` is the liquidated POSITION's (Buy = a long); the notional
-- is at the bankruptcy price
select
    'bybit' as exchange_id,
    symbol,
    case upper(side)
        when 'BUY' then 'long' when 'SELL' then 'short'
        when 'LONG' then 'long' when 'SHORT' then 'short'
    end as position_side,
    executed_qty as qty_coin,
    executed_qty * bankruptcy_price as notional_quote,
    trade_time
from read_parquet(raw('bybit', 'liquidations'), union_by_name = true);

-- OKX contract terms: each instruments snapshot's coin per contract applies until the next
-- snapshot; the first one also before it.
create or replace temp table okx_contract_terms as
select
    inst_id,
    coin_per_contract,
    case when row_number() over w = 1 then '-infinity'::timestamp else snapshot_at end
        as valid_from,
    coalesce(lead(snapshot_at) over w, 'infinity'::timestamp) as valid_to
from (
    select
        inst_id,
        snapshot_at,
        case when ct_val_ccy = split_part(inst_family, '-', 1) then ct_val * ct_mult end
            as coin_per_contract
    from read_parquet(raw('okx', 'instruments'), union_by_name = true)
    qualify row_number() over (partition by inst_id, snapshot_at order by _source) = 1
)
window w as (partition by inst_id order by snapshot_at);

create or replace temp table okx_liquidations as
-- linear swaps only; sizes in contracts x the contract's coin value; `pos_side` names the
-- position unless it is `net`, where the ORDER's side does (a sell closes a long)
select
    'okx' as exchange_id,
    okx_symbol(liq.inst_family) as symbol,
    coalesce(
        case upper(liq.pos_side)
            when 'BUY' then 'long' when 'SELL' then 'short'
            when 'LONG' then 'long' when 'SHORT' then 'short'
        end,
        case when lower(liq.pos_side) = 'net' then
            case upper(liq.side) when 'SELL' then 'long' when 'BUY' then 'short' end
        end
    ) as position_side,
    liq.qty_contracts * terms.coin_per_contract as qty_coin,
    liq.qty_contracts * terms.coin_per_contract * liq.bankruptcy_price as notional_quote,
    liq.trade_time
from read_parquet(raw('okx', 'liquidations'), union_by_name = true) as liq
left join okx_contract_terms as terms
    on coalesce(liq.inst_id, liq.inst_family || '-SWAP') = terms.inst_id
    and liq.trade_time >= terms.valid_from
    and liq.trade_time < terms.valid_to
where split_part(liq.inst_family, '-', 2) in ('USDT', 'USDC');

-- The filled liquidations of every venue, in USD.
create or replace temp table liquidations as
select
    liq.exchange_id,
    liq.symbol,
    base_asset(undated(liq.symbol)) as base_asset,
    liq.position_side,
    liq.qty_coin,
    liq.notional_quote * rates.usd_per_quote_unit as notional_usd,
    liq.exchange_id = 'binance' as is_sampled_feed,
    liq.trade_time,
    cast(liq.trade_time as date) as liquidation_date
from (
    from binance_liquidations
    union all by name
    from bybit_liquidations
    union all by name
    from okx_liquidations
) as liq
left join quote_usd_rates as rates on quote_asset(undated(liq.symbol)) = rates.quote_asset
where liq.qty_coin > 0;

-- Candles of every venue (both intervals: Bybit's hourly ones price its open interest), one
-- per symbol, interval and open time, first by source; the close time is the candle's last
-- millisecond.
create or replace temp table candles as
select * from (
    select
        'binance' as exchange_id, symbol, "interval", open_time, close_time, open_price,
        high_price, low_price, close_price, volume_base, volume_quote, _source, dt
    from read_parquet(raw('binance', 'klines'), hive_partitioning = true, union_by_name = true)
    union all
    select
        'bybit', symbol, "interval", open_time,
        open_time + case "interval" when '1d' then interval 1 day else interval 1 hour end
            - interval 1 millisecond,
        open_price, high_price, low_price, close_price, volume_base, volume_quote, _source, dt
    from read_parquet(raw('bybit', 'klines'), hive_partitioning = true, union_by_name = true)
    union all
    select
        'okx', okx_symbol(inst_id), "interval", open_time,
        open_time + case "interval" when '1d' then interval 1 day else interval 1 hour end
            - interval 1 millisecond,
        open_price, high_price, low_price, close_price, volume_base, volume_quote, _source, dt
    from read_parquet(raw('okx', 'klines'), hive_partitioning = true, union_by_name = true)
)
qualify row_number() over (
    partition by exchange_id, symbol, "interval", open_time
    order by _source, close_price, volume_base, high_price, low_price, open_price
) = 1;

-- Open interest of every venue, ONE-SIDED, one snapshot per symbol and time, first by source.
create or replace temp table binance_open_interest as
select
    'binance' as exchange_id, symbol, snapshot_at,
    open_interest_base as open_interest_coin, open_interest_quote
from read_parquet(raw('binance', 'open_interest'), union_by_name = true)
qualify row_number() over (
    partition by symbol, snapshot_at order by _source, open_interest_base, open_interest_quote
) = 1;

create or replace temp table okx_open_interest as
select
    'okx' as exchange_id, okx_symbol(inst_id) as symbol, snapshot_at, open_interest_coin,
    open_interest_usd as open_interest_quote
from read_parquet(raw('okx', 'open_interest'), union_by_name = true)
qualify row_number() over (
    partition by okx_symbol(inst_id), snapshot_at
    order by _source, open_interest_coin, open_interest_usd
) = 1;

-- Bybit's figure is two-sided: one side is `singleOpenInterest`, else half of it. Its value is
-- the coin figure x the price interpolated inside the hourly candle the snapshot falls in
-- (NULL without a candle in the two hours before).
create or replace temp table bybit_open_interest as
with one_sided as (
    select symbol, snapshot_at, coin
    from (
        select
            symbol,
            snapshot_at,
            _source,
            coalesce(single_open_interest_base, open_interest_base / 2) as coin
        from read_parquet(raw('bybit', 'open_interest'), union_by_name = true)
    )
    qualify row_number() over (partition by symbol, snapshot_at order by _source, coin) = 1
),
hourly as (
    select symbol, open_time, open_price, close_price
    from candles
    where exchange_id = 'bybit' and "interval" = '1h'
)
select
    'bybit' as exchange_id,
    oi.symbol,
    oi.snapshot_at,
    oi.coin as open_interest_coin,
    case when oi.snapshot_at < k.open_time + interval 2 hour then oi.coin * (
        k.open_price + (k.close_price - k.open_price)
            * least(epoch_ms(oi.snapshot_at - k.open_time) / 3600000.0, 1.0)
    ) end as open_interest_quote
from one_sided as oi
asof left join hourly as k on oi.symbol = k.symbol and oi.snapshot_at >= k.open_time;

create or replace temp table open_interest as
select
    oi.exchange_id,
    oi.symbol,
    base_asset(undated(oi.symbol)) as base_asset,
    oi.snapshot_at,
    cast(oi.snapshot_at as date) as snapshot_date,
    oi.open_interest_coin,
    oi.open_interest_quote * rates.usd_per_quote_unit as open_interest_usd
from (
    from binance_open_interest
    union all by name
    from bybit_open_interest
    union all by name
    from okx_open_interest
) as oi
left join quote_usd_rates as rates on quote_asset(undated(oi.symbol)) = rates.quote_asset;

-- Daily candles that had closed when fetched (per the day file's manifest), in USD.
create or replace temp table daily_candles as
select
    k.exchange_id,
    k.symbol,
    base_asset(undated(k.symbol)) as base_asset,
    cast(k.open_time as date) as price_date,
    k.open_price * rates.usd_per_quote_unit as open_usd,
    k.high_price * rates.usd_per_quote_unit as high_usd,
    k.low_price * rates.usd_per_quote_unit as low_usd,
    k.close_price * rates.usd_per_quote_unit as close_usd,
    k.volume_base as volume_coin,
    k.volume_quote * rates.usd_per_quote_unit as volume_usd
from candles as k
inner join manifests as m
    on m.exchange_id = k.exchange_id
    and m.dataset = 'klines'
    and m.part = k.symbol || '-1d'
    and m.capture_date = k.dt
left join quote_usd_rates as rates on quote_asset(undated(k.symbol)) = rates.quote_asset
where k."interval" = '1d' and k.close_time < m.fetched_at;

-- The base assets each exchange was seen trading (dim_instruments' assets).
create or replace temp table assets as
select distinct exchange_id, base_asset from daily_candles
union
select distinct exchange_id, base_asset from open_interest
union
select distinct 'binance', base_asset(symbol)
from read_parquet(raw('binance', 'funding'), union_by_name = true)
union
select distinct 'bybit', base_asset(undated(symbol))
from read_parquet(raw('bybit', 'funding'), union_by_name = true)
union
select distinct 'okx', split_part(inst_id, '-', 1)
from read_parquet(raw('okx', 'funding'), union_by_name = true)
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
        exact_sum(notional_usd, condition := position_side = 'long') as long_usd,
        exact_sum(notional_usd, condition := position_side = 'short') as short_usd,
        exact_sum(notional_usd) as total_usd,
        exact_sum(qty_coin, condition := position_side = 'long') as long_coin,
        exact_sum(qty_coin, condition := position_side = 'short') as short_coin,
        count(*) filter (where position_side = 'long') as long_count,
        count(*) filter (where position_side = 'short') as short_count,
        count(*) as total_count,
        max(notional_usd) as largest_usd,
        bool_or(is_sampled_feed) as is_sampled
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
    coalesce(exchanges.has_sampled_liquidation_feed, false)
        or coalesce(per_day.is_sampled, false) as is_sampled_feed
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
        instrument_sum(open_interest_coin) as coin,
        instrument_sum(open_interest_usd) as usd
    from open_interest
    group by all
),
per_day as (
    select
        snapshot_date,
        exchange_id,
        base_asset,
        arg_max(coin, snapshot_at) as coin_close,
        exact_sum(coin) / count(*) as coin_avg,
        min(coin) as coin_min,
        max(coin) as coin_max,
        arg_max(usd, snapshot_at) as usd_close,
        exact_sum(usd) / count(*) as usd_avg,
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
        instrument_sum(volume_coin) as volume_coin,
        instrument_sum(volume_usd) as volume_usd
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
