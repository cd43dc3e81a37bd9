{#- Daily (1d, closed) candles per base asset. When several instruments share a base asset on an
    exchange (e.g. BTCUSDT and BTCUSDC), the prices are those of the instrument with the largest
    USD volume that day (ties: the first symbol alphabetically) and the volumes are the sum over
    all of them. -#}
with

candles as (

    select * from {{ ref('fct_price_candles') }}
    where kline_interval = '1d'

),

ranked as (

    select
        candle_date,
        exchange_id,
        base_asset,
        open_usd,
        high_usd,
        low_usd,
        close_usd,
        volume_coin,
        volume_usd,
        symbol,
        row_number() over (
            partition by candle_date, exchange_id, base_asset
            order by volume_usd desc nulls last, symbol
        ) as volume_rank

    from candles

),

daily as (

    select
        candle_date as price_date,
        exchange_id,
        base_asset,
        any_value(open_usd) filter (where volume_rank = 1) as open_usd,
        any_value(high_usd) filter (where volume_rank = 1) as high_usd,
        any_value(low_usd) filter (where volume_rank = 1) as low_usd,
        any_value(close_usd) filter (where volume_rank = 1) as close_usd,
        {{ sum_over_instruments('volume_coin') }} as volume_coin,
        {{ sum_over_instruments('volume_usd') }} as volume_usd

    from ranked

    group by 1, 2, 3

),

with_previous as (

    select
        price_date,
        exchange_id,
        base_asset,
        open_usd,
        high_usd,
        low_usd,
        close_usd,
        volume_coin,
        volume_usd,
        lag(price_date) over previous_day as previous_price_date,
        lag(close_usd) over previous_day as previous_close_usd

    from daily

    window previous_day as (partition by exchange_id, base_asset order by price_date)

),

final as (

    select
        price_date,
        exchange_id,
        base_asset,
        cast(open_usd as double) as open_usd,
        cast(high_usd as double) as high_usd,
        cast(low_usd as double) as low_usd,
        cast(close_usd as double) as close_usd,
        cast(volume_coin as double) as volume_coin,
        cast(volume_usd as double) as volume_usd,
        cast(case
            when previous_price_date = {{ previous_period_start_date('price_date', 'day') }}
                then {{ percent_change('close_usd', 'previous_close_usd') }}
        end as double) as change_pct

    from with_previous

)

select * from final
