-- Breadth over the 30 UTC days ending with the brief's day (market_stress_daily): tracked
-- majors with a change, how many fell, the day's label and BTC's change (%).
-- Parameters: $brief_date.
with

stress as (

    select * from marts.market_stress_daily
    where stress_date between $brief_date::date - 29 and $brief_date::date

),

final as (

    select
        stress_date,
        assets_tracked,
        assets_down,
        breadth_label,
        btc_change_pct

    from stress

)

select * from final
order by stress_date
