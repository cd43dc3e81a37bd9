{#- One reference daily price per base asset across venues: the OHLC of the venue with the
    largest USD volume that day (ties: the first exchange_id alphabetically). The change is
    computed on this reference series (close against the previous calendar day's reference
    close), so a change of reference venue between two days never hides in a venue's own
    change_pct. -#}
with

prices as (

    select * from {{ ref('prices_daily') }}

),

ranked as (

    select
        price_date,
        base_asset,
        exchange_id,
        open_usd,
        high_usd,
        low_usd,
        close_usd,
        volume_usd,
        row_number() over (
            partition by price_date, base_asset
            order by volume_usd desc nulls last, exchange_id
        ) as volume_rank,
        count(*) over (partition by price_date, base_asset) as venues_reporting

    from prices

),

reference as (

    select
        price_date,
        base_asset,
        exchange_id as reference_exchange_id,
        open_usd,
        high_usd,
        low_usd,
        close_usd,
        venues_reporting,
        lag(price_date) over previous_day as previous_price_date,
        lag(close_usd) over previous_day as previous_close_usd

    from ranked

    where volume_rank = 1

    window previous_day as (partition by base_asset order by price_date)

),

final as (

    select
        price_date,
        base_asset,
        reference_exchange_id,
        cast(open_usd as double) as open_usd,
        cast(high_usd as double) as high_usd,
        cast(low_usd as double) as low_usd,
        cast(close_usd as double) as close_usd,
        cast(case
            when previous_price_date = {{ previous_period_start_date('price_date', 'day') }}
                then {{ percent_change('close_usd', 'previous_close_usd') }}
        end as double) as change_pct,
        cast(venues_reporting as integer) as venues_reporting

    from reference

)

select * from final
