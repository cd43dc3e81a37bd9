{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail',
        pre_hook = "{{ delete_window('funding_date') }}",
    )
}}
{#- When the lake does not state the funding interval (REST rows), it is the time since the
    instrument's previous funding event, so the previous event is looked up over all history
    before the window is applied. -#}
with

funding_rates as (

    select * from {{ ref('int_funding_rates__unioned') }}

),

quote_usd_rates as (

    select * from {{ ref('quote_asset_usd_rates') }}

),

with_interval as (

    select
        funding_rates.exchange_id,
        funding_rates.symbol,
        funding_rates.base_asset,
        funding_rates.quote_asset,
        funding_rates.contract_type,
        funding_rates.funding_rate,
        funding_rates.mark_price_quote,
        funding_rates.funding_at,
        coalesce(
            funding_rates.funding_interval_hours,
            cast(round(date_diff(
                'minute',
                lag(funding_rates.funding_at) over (
                    partition by funding_rates.exchange_id, funding_rates.symbol
                    order by funding_rates.funding_at
                ),
                funding_rates.funding_at
            ) / 60) as integer)
        ) as funding_interval_hours

    from funding_rates

),

enriched as (

    select
        {{ generate_surrogate_key([
            'with_interval.exchange_id', 'with_interval.symbol', 'with_interval.funding_at',
        ]) }} as funding_rate_id,
        {{ instrument_id(
            'with_interval.exchange_id', 'with_interval.symbol', 'with_interval.contract_type'
        ) }} as instrument_id,
        with_interval.exchange_id,
        with_interval.symbol,
        with_interval.base_asset,
        with_interval.quote_asset,
        with_interval.contract_type,
        with_interval.funding_rate,
        with_interval.funding_rate * 100 as funding_rate_pct,
        with_interval.funding_interval_hours,
        with_interval.funding_rate * 100
            * (24.0 / nullif(with_interval.funding_interval_hours, 0))
            * 365 as funding_rate_annualized_pct,
        with_interval.mark_price_quote * quote_usd_rates.usd_per_quote_unit as mark_price_usd,
        with_interval.funding_at,
        cast(with_interval.funding_at as date) as funding_date

    from with_interval

    left join quote_usd_rates
        on with_interval.quote_asset = quote_usd_rates.quote_asset

    where {{ in_window('cast(with_interval.funding_at as date)') }}

)

-- in date order: a window's delete and reads skip the other days' row groups (window.sql)
select * from enriched
order by funding_date
