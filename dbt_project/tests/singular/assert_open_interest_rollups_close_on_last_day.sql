{#- Weekly and monthly open interest close on the close of the last day with data in the period,
    and their min / max are the extremes of the days (a stock is never summed over time). One
    row per mismatching period. -#}
with

daily as (

    select * from {{ ref('open_interest_daily') }}

),

{% for grain, rollup in [('week', 'open_interest_weekly'), ('month', 'open_interest_monthly')] %}
{{ grain }}_from_daily as (

    select
        {{ period_start_date('snapshot_date', grain) }} as period_start_date,
        exchange_id,
        base_asset,
        arg_max(open_interest_usd_close, snapshot_date) as open_interest_usd_close,
        arg_max(open_interest_coin_close, snapshot_date) as open_interest_coin_close,
        min(open_interest_usd_min) as open_interest_usd_min,
        max(open_interest_usd_max) as open_interest_usd_max,
        count(*) as days_with_data

    from daily

    group by 1, 2, 3

),

{{ grain }}_mismatches as (

    select
        '{{ rollup }}' as rollup_model,
        coalesce(rollup.{{ grain }}_start_date, expected.period_start_date) as period_start_date,
        coalesce(rollup.exchange_id, expected.exchange_id) as exchange_id,
        coalesce(rollup.base_asset, expected.base_asset) as base_asset

    from {{ ref(rollup) }} as rollup

    full outer join {{ grain }}_from_daily as expected
        on rollup.{{ grain }}_start_date = expected.period_start_date
        and rollup.exchange_id = expected.exchange_id
        and rollup.base_asset = expected.base_asset

    where rollup.exchange_id is null
        or expected.exchange_id is null
        {%- for column in [
            'open_interest_usd_close', 'open_interest_coin_close', 'open_interest_usd_min',
            'open_interest_usd_max', 'days_with_data',
        ] %}
        or rollup.{{ column }} != expected.{{ column }}
        {%- endfor %}

){{ ',' if not loop.last }}
{% endfor %}

select * from week_mismatches
union all
select * from month_mismatches
