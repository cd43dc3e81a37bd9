{#- Corporate BTC treasuries marked to market each UTC day. Holdings and cost basis come from
    the treasury_btc_filings seed (SECONDARY data compiled from SEC 8-K filings, not market
    data): on each day, the latest filing dated on or before it (an as-of join; filing dates,
    not trade dates). The cost basis is the running sum of the purchase costs the filings
    state; sales (e.g. 704 BTC in December 2022) are not in the seed, so it is not reduced for
    them. The day's BTC close is the reference close of asset_prices_daily, so days without a
    BTC price have no row. -#}
with

filings as (

    select * from {{ ref('treasury_btc_filings') }}

),

prices as (

    select * from {{ ref('asset_prices_daily') }}
    where base_asset = 'BTC'

),

holdings as (

    select
        holder_id,
        holder_name,
        filing_date,
        btc_holdings,
        sum(purchase_cost_usd) over (
            partition by holder_id
            order by filing_date
            rows between unbounded preceding and current row
        ) as cost_basis_usd,
        is_inferred,
        source_reference

    from filings

),

holders as (

    select distinct holder_id from holdings

),

holder_days as (

    select
        holders.holder_id,
        prices.price_date,
        prices.close_usd

    from holders

    cross join prices

),

marked as (

    select
        holder_days.price_date as holding_date,
        holdings.holder_id,
        holdings.holder_name,
        holdings.filing_date as holdings_as_of_date,
        holdings.btc_holdings,
        holdings.cost_basis_usd,
        holder_days.close_usd as btc_close_usd,
        holdings.btc_holdings * holder_days.close_usd as market_value_usd,
        holdings.is_inferred,
        holdings.source_reference

    from holder_days

    asof inner join holdings
        on holder_days.holder_id = holdings.holder_id
        and holder_days.price_date >= holdings.filing_date

),

final as (

    select
        holding_date,
        holder_id,
        holder_name,
        holdings_as_of_date,
        cast(btc_holdings as double) as btc_holdings,
        cast(cost_basis_usd as double) as cost_basis_usd,
        cast(cost_basis_usd / nullif(btc_holdings, 0) as double) as average_cost_usd_per_btc,
        cast(btc_close_usd as double) as btc_close_usd,
        cast(market_value_usd as double) as market_value_usd,
        cast(market_value_usd - cost_basis_usd as double) as unrealized_pnl_usd,
        cast({{ percent_change('market_value_usd', 'cost_basis_usd') }} as double)
            as unrealized_pnl_pct,
        is_inferred,
        source_reference

    from marked

)

select * from final
