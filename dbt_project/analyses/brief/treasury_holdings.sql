-- Corporate BTC treasuries marked to the brief's day's BTC close (treasury_holdings_daily):
-- holdings (BTC), cost basis and unrealized P&L (USD), and where the holdings come from.
-- Parameters: $brief_date.
with

holdings as (

    select * from marts.treasury_holdings_daily
    where holding_date = $brief_date::date

),

final as (

    select
        holder_name,
        btc_holdings,
        cost_basis_usd,
        average_cost_usd_per_btc,
        btc_close_usd,
        market_value_usd,
        unrealized_pnl_usd,
        unrealized_pnl_pct,
        holdings_as_of_date,
        is_inferred,
        source_reference

    from holdings

)

select * from final
order by unrealized_pnl_usd
