{#- How much each asset moves with BTC, from the reference daily returns (asset_prices_daily
    change_pct, simple returns in percent). Over a trailing window of `window_days` (14)
    calendar days inclusive of the day, on the days where both the asset and BTC have a
    return: Pearson correlation, and beta = the least-squares slope of the asset's return on
    BTC's (regr_slope). Both need at least `min_pairs` (10) such days, else NULL.
    btc_explained_share = beta x BTC's return / the asset's return: the share of the day's
    move that BTC's move accounts for, clipped to [0, 1] (0 when the BTC-implied move has the
    opposite sign; NULL when the asset did not move or beta is NULL). BTC itself has no row. -#}
{%- set window_days = 14 -%}
{%- set min_pairs = 10 -%}

with

prices as (

    select * from {{ ref('asset_prices_daily') }}

),

btc_returns as (

    select
        price_date,
        change_pct as btc_change_pct

    from prices

    where base_asset = 'BTC'

),

paired as (

    select
        prices.price_date,
        prices.base_asset,
        prices.change_pct,
        btc_returns.btc_change_pct

    from prices

    left join btc_returns
        on prices.price_date = btc_returns.price_date

    where prices.base_asset != 'BTC'

),

rolling as (

    select
        price_date,
        base_asset,
        change_pct,
        btc_change_pct,
        corr(change_pct, btc_change_pct) over last_days as correlation,
        regr_slope(change_pct, btc_change_pct) over last_days as beta,
        regr_count(change_pct, btc_change_pct) over last_days as paired_days

    from paired

    window last_days as (
        partition by base_asset
        order by price_date
        range between interval {{ window_days - 1 }} day preceding and current row
    )

),

final as (

    select
        price_date,
        base_asset,
        cast(change_pct as double) as change_pct,
        cast(btc_change_pct as double) as btc_change_pct,
        cast(paired_days as integer) as paired_days_14d,
        cast(case when paired_days >= {{ min_pairs }} then correlation end as double)
            as btc_correlation_14d,
        cast(case when paired_days >= {{ min_pairs }} then beta end as double) as btc_beta_14d,
        cast(case
            when paired_days >= {{ min_pairs }} and change_pct != 0
                then greatest(0, least(1, beta * btc_change_pct / change_pct))
        end as double) as btc_explained_share

    from rolling

)

select * from final
