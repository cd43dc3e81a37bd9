{#- A fixed calendar between var('dim_dates_start') and var('dim_dates_end') (inclusive). -#}
with

days as (

    select cast(range as date) as date_day
    from range(
        cast('{{ var("dim_dates_start") }}' as date),
        cast('{{ var("dim_dates_end") }}' as date) + interval 1 day,
        interval 1 day
    )

),

calendar as (

    select
        date_day,
        {{ period_start_date('date_day', 'week') }} as week_start_date,
        {{ period_start_date('date_day', 'month') }} as month_start_date,
        year(date_day) as year_number,
        month(date_day) as month_number,
        isoyear(date_day) as iso_year_number,
        week(date_day) as iso_week_number,
        isodow(date_day) as iso_day_of_week,
        isodow(date_day) in (6, 7) as is_weekend,
        day(last_day(date_day)) as days_in_month

    from days

)

select * from calendar
