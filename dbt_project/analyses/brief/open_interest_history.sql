-- Open interest over the 30 UTC days ending with the brief's day, by venue
-- (open_interest_daily: the sum of the day's closes over base assets, in USD).
-- Parameters: $brief_date.
with

open_interest as (

    select * from marts.open_interest_daily
    where snapshot_date between $brief_date::date - 29 and $brief_date::date

),

final as (

    select
        snapshot_date,
        exchange_id,
        sum(open_interest_usd_close) as open_interest_usd

    from open_interest

    group by all

)

select * from final
order by snapshot_date, exchange_id
