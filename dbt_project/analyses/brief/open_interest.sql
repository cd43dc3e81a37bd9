-- Perpetual open interest (market_stress_daily): the total over venues and base assets at the
-- brief's day's close, in USD, and its change against the previous day and 30 days earlier,
-- in percent and in USD.
-- Parameters: $brief_date.
with

stress as (

    select * from marts.market_stress_daily

),

final as (

    select
        brief_day.stress_date,
        brief_day.open_interest_usd,
        brief_day.open_interest_1d_change_pct,
        brief_day.open_interest_30d_change_pct,
        brief_day.open_interest_usd - previous_day.open_interest_usd
            as open_interest_1d_change_usd,
        brief_day.open_interest_usd - month_before.open_interest_usd
            as open_interest_30d_change_usd

    from stress as brief_day

    left join stress as previous_day
        on previous_day.stress_date = brief_day.stress_date - 1

    left join stress as month_before
        on month_before.stress_date = brief_day.stress_date - 30

    where brief_day.stress_date = $brief_date::date

)

select * from final
