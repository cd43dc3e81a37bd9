-- The brief's day: the latest UTC day of market_stress_daily on or before `$on_or_before`
-- (the latest day of all when it is NULL).
-- Parameters: $on_or_before (date or NULL).
with

stress as (

    select * from marts.market_stress_daily

),

final as (

    select max(stress_date) as brief_date
    from stress
    where $on_or_before::date is null or stress_date <= $on_or_before::date

)

select * from final
