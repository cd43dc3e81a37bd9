{#- Weekly and monthly liquidations are liquidations_daily rolled up (STYLE D5): re-summing the
    daily rows of each period gives the period's figures (sums within 1e-9 relative, counts and
    days exactly, the largest liquidation exactly). One row per mismatching period. -#}
{%- set sums = [
    'long_liquidations_usd', 'short_liquidations_usd', 'total_liquidations_usd',
    'long_liquidations_coin', 'short_liquidations_coin',
] -%}
{%- set counts = ['long_liquidation_count', 'short_liquidation_count', 'liquidation_count'] -%}

with

daily as (

    select * from {{ ref('liquidations_daily') }}

),

{% for grain, rollup in [('week', 'liquidations_weekly'), ('month', 'liquidations_monthly')] %}
{{ grain }}_from_daily as (

    select
        {{ period_start_date('liquidation_date', grain) }} as period_start_date,
        exchange_id,
        base_asset,
        {%- for column in sums + counts %}
        sum({{ column }}) as {{ column }},
        {%- endfor %}
        max(largest_liquidation_usd) as largest_liquidation_usd,
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
        {%- for column in sums %}
        or abs(rollup.{{ column }} - expected.{{ column }})
            > 1e-9 * greatest(abs(expected.{{ column }}), 1)
        {%- endfor %}
        {%- for column in counts + ['largest_liquidation_usd', 'days_with_data'] %}
        or rollup.{{ column }} != expected.{{ column }}
        {%- endfor %}

){{ ',' if not loop.last }}
{% endfor %}

select * from week_mismatches
union all
select * from month_mismatches
