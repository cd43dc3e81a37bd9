-- How the other majors moved with BTC on the brief's day (contagion_daily): the day's change,
-- the 14-day correlation and beta to BTC and the share of the move BTC accounts for.
-- Parameters: $brief_date.
with

contagion as (

    select * from marts.contagion_daily
    where price_date = $brief_date::date

),

final as (

    select
        base_asset,
        change_pct,
        btc_change_pct,
        btc_correlation_14d,
        btc_beta_14d,
        btc_explained_share

    from contagion

)

select * from final
order by base_asset
