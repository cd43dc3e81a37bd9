-- BTC's reference daily candles (asset_prices_daily, USD) over the 30 UTC days ending with the
-- brief's day: the price line of the support chart.
-- Parameters: $brief_date.
with

prices as (

    select * from marts.asset_prices_daily
    where
        base_asset = 'BTC'
        and price_date between $brief_date::date - 29 and $brief_date::date

),

final as (

    select
        price_date,
        low_usd,
        high_usd,
        close_usd

    from prices

)

select * from final
order by price_date
