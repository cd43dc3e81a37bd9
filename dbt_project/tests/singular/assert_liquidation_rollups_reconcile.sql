{#- Daily liquidations are liquidations_hourly rolled up, weekly and monthly are
    liquidations_daily rolled up (STYLE D5): re-summing the finer rows of each period gives the
    period's figures (sums within 1e-9 relative, NULL exactly where every finer row is NULL;
    counts, days and the largest liquidation exactly). One row per mismatching period. -#}
{%- set sums = [
    'long_liquidations_usd', 'short_liquidations_usd', 'total_liquidations_usd',
    'long_liquidations_coin', 'short_liquidations_coin', 'captured_seconds',
] -%}
{%- set counts = ['long_liquidation_count', 'short_liquidation_count', 'liquidation_count'] -%}
{#- (grain, finer model, rollup model, the rollup's date column); both finer models carry the
    UTC day in `liquidation_date` -#}
{%- set rollups = [
    ('day', 'liquidations_hourly', 'liquidations_daily', 'liquidation_date'),
    ('week', 'liquidations_daily', 'liquidations_weekly', 'week_start_date'),
    ('month', 'liquidations_daily', 'liquidations_monthly', 'month_start_date'),
] -%}

with

{% for grain, finer, rollup, rollup_date in rollups %}
{{ grain }}_expected as (

    select
        {{ period_start_date('liquidation_date', grain) }} as period_start_date,
        exchange_id,
        base_asset,
        {%- for column in sums + counts %}
        sum({{ column }}) as {{ column }},
        {%- endfor %}
        max(largest_liquidation_usd) as largest_liquidation_usd,
        count(distinct liquidation_date) as days_with_data

    from {{ ref(finer) }}

    group by 1, 2, 3

),

{{ grain }}_mismatches as (

    select
        '{{ rollup }}' as rollup_model,
        coalesce(rollup.{{ rollup_date }}, expected.period_start_date) as period_start_date,
        coalesce(rollup.exchange_id, expected.exchange_id) as exchange_id,
        coalesce(rollup.base_asset, expected.base_asset) as base_asset

    from {{ ref(rollup) }} as rollup

    full outer join {{ grain }}_expected as expected
        on rollup.{{ rollup_date }} = expected.period_start_date
        and rollup.exchange_id = expected.exchange_id
        and rollup.base_asset = expected.base_asset

    where rollup.exchange_id is null
        or expected.exchange_id is null
        {%- for column in sums %}
        or (rollup.{{ column }} is null) != (expected.{{ column }} is null)
        or abs(rollup.{{ column }} - expected.{{ column }})
            > 1e-9 * greatest(abs(expected.{{ column }}), 1)
        {%- endfor %}
        {%- for column in counts + ['largest_liquidation_usd'] %}
        or rollup.{{ column }} is distinct from expected.{{ column }}
        {%- endfor %}
        {%- if grain != 'day' %}
        or rollup.days_with_data != expected.days_with_data
        {%- endif %}

){{ ',' if not loop.last }}
{% endfor %}

{% for grain, finer, rollup, rollup_date in rollups %}
select * from {{ grain }}_mismatches
{% if not loop.last %}union all{% endif %}
{% endfor %}
