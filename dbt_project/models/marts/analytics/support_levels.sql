{#- Support levels per base asset, from the reference daily prices (asset_prices_daily):

    - round_number: multiples of a step proportional to the price's magnitude: the smallest
      number of the 1-2-5 series (1, 2, 5, 10, 20, 50 ... x 10^k) that is at least
      `step_share` (5 %) of the latest close (BTC near 66,000 USD: 5,000 USD). The levels run
      from the multiple at or below the lowest daily low up to the highest daily close; a level
      the price never closed at or above is resistance, not support, and is left out.
    - swing_low: a daily low strictly below the lows of the `swing_days` (3) days before it and
      not above the lows of the 3 days after it (so it is confirmed 3 days later).

    first_broken_date is the first UTC day whose close is below the level, after the price had
    closed at or above it (a swing low: after the swing day). is_next_below marks, per asset,
    the highest level strictly below the latest close (round numbers win a tie). -#}
{%- set step_share = 0.05 -%}
{%- set swing_days = 3 -%}

with

prices as (

    select * from {{ ref('asset_prices_daily') }}

),

asset_ranges as (

    select
        base_asset,
        max(price_date) as latest_price_date,
        arg_max(close_usd, price_date) as latest_close_usd,
        min(low_usd) as lowest_low_usd,
        max(close_usd) as highest_close_usd

    from prices

    group by 1

),

asset_steps as (

    select
        base_asset,
        latest_price_date,
        latest_close_usd,
        lowest_low_usd,
        highest_close_usd,
        {{ step_share }} * latest_close_usd
            / power(10, floor(log10({{ step_share }} * latest_close_usd))) as step_mantissa,
        power(10, floor(log10({{ step_share }} * latest_close_usd))) as step_magnitude

    from asset_ranges

    where latest_close_usd > 0

),

asset_round_steps as (

    select
        base_asset,
        latest_price_date,
        latest_close_usd,
        lowest_low_usd,
        highest_close_usd,
        step_magnitude * case
            when step_mantissa <= 1 then 1
            when step_mantissa <= 2 then 2
            when step_mantissa <= 5 then 5
            else 10
        end as level_step_usd

    from asset_steps

),

round_levels as (

    select
        asset_round_steps.base_asset,
        'round_number' as level_type,
        level_multiple.multiple * asset_round_steps.level_step_usd as level_usd,
        cast(null as date) as established_date

    from asset_round_steps

    cross join lateral (
        select unnest(generate_series(
            cast(floor(asset_round_steps.lowest_low_usd / asset_round_steps.level_step_usd)
                as bigint),
            cast(floor(asset_round_steps.highest_close_usd / asset_round_steps.level_step_usd)
                as bigint)
        )) as multiple
    ) as level_multiple

    where level_multiple.multiple > 0

),

lows_in_context as (

    select
        base_asset,
        price_date,
        low_usd,
        min(low_usd) over (
            partition by base_asset order by price_date
            rows between {{ swing_days }} preceding and 1 preceding
        ) as lowest_low_before_usd,
        count(*) over (
            partition by base_asset order by price_date
            rows between {{ swing_days }} preceding and 1 preceding
        ) as days_before,
        min(low_usd) over (
            partition by base_asset order by price_date
            rows between 1 following and {{ swing_days }} following
        ) as lowest_low_after_usd,
        count(*) over (
            partition by base_asset order by price_date
            rows between 1 following and {{ swing_days }} following
        ) as days_after

    from prices

),

swing_lows as (

    select
        base_asset,
        'swing_low' as level_type,
        low_usd as level_usd,
        price_date as established_date

    from lows_in_context

    where days_before = {{ swing_days }}
        and days_after = {{ swing_days }}
        and low_usd < lowest_low_before_usd
        and low_usd <= lowest_low_after_usd

),

levels as (

    select * from round_levels
    union all
    select * from swing_lows

),

level_history as (

    select
        levels.base_asset,
        levels.level_type,
        levels.level_usd,
        levels.established_date,
        min(prices.price_date) filter (
            where prices.close_usd >= levels.level_usd
        ) as first_close_at_or_above_date

    from levels

    inner join prices
        on levels.base_asset = prices.base_asset

    group by 1, 2, 3, 4

),

broken as (

    select
        level_history.base_asset,
        level_history.level_type,
        level_history.level_usd,
        level_history.established_date,
        min(prices.price_date) filter (
            where prices.close_usd < level_history.level_usd
                and prices.price_date > coalesce(
                    level_history.established_date, level_history.first_close_at_or_above_date
                )
        ) as first_broken_date

    from level_history

    inner join prices
        on level_history.base_asset = prices.base_asset

    where level_history.first_close_at_or_above_date is not null

    group by 1, 2, 3, 4

),

positioned as (

    select
        broken.base_asset,
        broken.level_type,
        broken.level_usd,
        asset_round_steps.level_step_usd,
        broken.established_date,
        broken.first_broken_date,
        asset_round_steps.latest_price_date,
        asset_round_steps.latest_close_usd,
        row_number() over (
            partition by broken.base_asset, broken.level_usd < asset_round_steps.latest_close_usd
            order by broken.level_usd desc, broken.level_type
        ) = 1 and broken.level_usd < asset_round_steps.latest_close_usd as is_next_below

    from broken

    inner join asset_round_steps
        on broken.base_asset = asset_round_steps.base_asset

),

final as (

    select
        base_asset,
        level_type,
        cast(level_usd as double) as level_usd,
        cast(level_step_usd as double) as level_step_usd,
        established_date,
        first_broken_date,
        first_broken_date is not null as is_broken,
        latest_price_date,
        cast(latest_close_usd as double) as latest_close_usd,
        cast({{ percent_change('latest_close_usd', 'level_usd') }} as double)
            as latest_close_vs_level_pct,
        is_next_below

    from positioned

)

select * from final
