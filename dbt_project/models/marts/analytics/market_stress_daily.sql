{#- The market-stress dashboard of one UTC day, from the marts (all venues together).

    - Prices: the reference close and change of each tracked major (asset_prices_daily).
    - Breadth over the tracked majors with a change that day: `systemic` when at least
      `systemic_share` (80 %) of them fell and BTC fell; else `localized` when at least one
      fell by `sharp_fall_pct` (3 %) or more; else `calm` (NULL when no tracked asset has a
      change, e.g. the first day).
    - Liquidations (liquidations_daily, every venue and base asset the streams captured):
      long and short USD over trailing windows of 1, 7 and 30 calendar days inclusive of the
      day, for BTC and for all assets. Days not captured add nothing (they are not zeros);
      a day not captured has NULL windows.
    - Open interest: the sum over venues and assets of the daily closes (open_interest_daily),
      its change against the previous day and against 30 days earlier.
    - is_deleveraging: open interest down `deleveraging_oi_drop_pct` (15 %) or more over 30 days
      AND the last 7 days' long liquidations above 7 x the 30-day daily average (the week
      liquidated longs faster than the month did).
    - BTC supports (support_levels, round-number levels): the next level below the day's close
      and the level first broken that day.
    - cascade_count: liquidation_cascades starting that day (any asset). -#}
{%- set tracked_assets = ['BTC', 'ETH', 'BNB', 'SOL', 'XRP'] -%}
{%- set systemic_share = 0.8 -%}
{%- set sharp_fall_pct = -3 -%}
{%- set deleveraging_oi_drop_pct = -15 -%}

with

prices as (

    select * from {{ ref('asset_prices_daily') }}
    where base_asset in ('{{ tracked_assets | join("', '") }}')

),

liquidations as (

    select * from {{ ref('liquidations_daily') }}

),

open_interest as (

    select * from {{ ref('open_interest_daily') }}

),

supports as (

    select * from {{ ref('support_levels') }}
    where base_asset = 'BTC' and level_type = 'round_number'

),

cascades as (

    select * from {{ ref('liquidation_cascades') }}

),

price_days as (

    select
        price_date as stress_date,
        {%- for asset in tracked_assets %}
        max(close_usd) filter (where base_asset = '{{ asset }}') as {{ asset | lower }}_close_usd,
        max(change_pct) filter (where base_asset = '{{ asset }}')
            as {{ asset | lower }}_change_pct,
        {%- endfor %}
        count(change_pct) as assets_tracked,
        count(*) filter (where change_pct < 0) as assets_down,
        count(*) filter (where change_pct <= {{ sharp_fall_pct }}) as assets_falling_sharply

    from prices

    group by 1

),

liquidation_days as (

    select
        liquidation_date,
        count(distinct exchange_id) as venues_reporting,
        sum(long_liquidations_usd order by exchange_id, base_asset) as long_usd,
        sum(short_liquidations_usd order by exchange_id, base_asset) as short_usd,
        sum(long_liquidations_usd order by exchange_id) filter (
            where base_asset = 'BTC'
        ) as btc_long_usd,
        sum(short_liquidations_usd order by exchange_id) filter (
            where base_asset = 'BTC'
        ) as btc_short_usd

    from liquidations

    group by 1

),

liquidation_windows as (

    select
        liquidation_date,
        venues_reporting,
        {%- for days, label in [(1, '24h'), (7, '7d'), (30, '30d')] %}
        {%- for scope in ['btc_', ''] %}
        {%- for side in ['long', 'short'] %}
        sum(coalesce({{ scope }}{{ side }}_usd, 0)) over trailing_{{ days }}
            as {{ scope }}{{ side }}_liquidations_{{ label }}_usd,
        {%- endfor %}
        {%- endfor %}
        {%- endfor %}
        count(*) over trailing_30 as liquidation_days_30d

    from liquidation_days

    window
        trailing_1 as (order by liquidation_date range between current row and current row),
        trailing_7 as (
            order by liquidation_date range between interval 6 day preceding and current row
        ),
        trailing_30 as (
            order by liquidation_date range between interval 29 day preceding and current row
        )

),

open_interest_days as (

    select
        snapshot_date,
        sum(open_interest_usd_close order by exchange_id, base_asset) as open_interest_usd

    from open_interest

    group by 1

),

open_interest_changes as (

    select
        current_day.snapshot_date,
        current_day.open_interest_usd,
        {{ percent_change('current_day.open_interest_usd', 'previous_day.open_interest_usd') }}
            as open_interest_1d_change_pct,
        {{ percent_change('current_day.open_interest_usd', 'month_before.open_interest_usd') }}
            as open_interest_30d_change_pct

    from open_interest_days as current_day

    left join open_interest_days as previous_day
        on previous_day.snapshot_date = current_day.snapshot_date - interval 1 day

    left join open_interest_days as month_before
        on month_before.snapshot_date = current_day.snapshot_date - interval 30 day

),

cascade_days as (

    select
        start_date,
        count(*) as cascade_count

    from cascades

    group by 1

),

btc_supports as (

    select
        price_days.stress_date,
        max(supports.level_usd) filter (
            where supports.level_usd < price_days.btc_close_usd
        ) as btc_next_support_usd,
        max(supports.level_usd) filter (
            where supports.first_broken_date = price_days.stress_date
        ) as btc_broken_support_usd

    from price_days

    inner join supports
        on true

    group by 1

),

joined as (

    select
        price_days.*,
        liquidation_windows.* exclude (liquidation_date),
        open_interest_changes.* exclude (snapshot_date),
        btc_supports.btc_next_support_usd,
        btc_supports.btc_broken_support_usd,
        case
            when liquidation_windows.liquidation_date is not null
                then coalesce(cascade_days.cascade_count, 0)
        end as cascade_count

    from price_days

    left join liquidation_windows
        on price_days.stress_date = liquidation_windows.liquidation_date

    left join open_interest_changes
        on price_days.stress_date = open_interest_changes.snapshot_date

    left join btc_supports
        on price_days.stress_date = btc_supports.stress_date

    left join cascade_days
        on price_days.stress_date = cascade_days.start_date

),

final as (

    select
        stress_date,
        {%- for asset in tracked_assets %}
        cast({{ asset | lower }}_close_usd as double) as {{ asset | lower }}_close_usd,
        cast({{ asset | lower }}_change_pct as double) as {{ asset | lower }}_change_pct,
        {%- endfor %}
        cast(assets_tracked as integer) as assets_tracked,
        cast(assets_down as integer) as assets_down,
        case
            when assets_tracked = 0 then null
            when assets_down >= {{ systemic_share }} * assets_tracked and btc_change_pct < 0
                then 'systemic'
            when assets_falling_sharply > 0 then 'localized'
            else 'calm'
        end as breadth_label,
        {%- for label in ['24h', '7d', '30d'] %}
        {%- for scope in ['btc_', ''] %}
        {%- for side in ['long', 'short'] %}
        cast({{ scope }}{{ side }}_liquidations_{{ label }}_usd as double)
            as {{ scope }}{{ side }}_liquidations_{{ label }}_usd,
        {%- endfor %}
        {%- endfor %}
        {%- endfor %}
        cast(liquidation_days_30d as integer) as liquidation_days_30d,
        cast(venues_reporting as integer) as venues_reporting,
        cast(open_interest_usd as double) as open_interest_usd,
        cast(open_interest_1d_change_pct as double) as open_interest_1d_change_pct,
        cast(open_interest_30d_change_pct as double) as open_interest_30d_change_pct,
        case
            when open_interest_30d_change_pct is not null
                and long_liquidations_30d_usd is not null
                then open_interest_30d_change_pct <= {{ deleveraging_oi_drop_pct }}
                    and long_liquidations_7d_usd > 7 * long_liquidations_30d_usd / 30
        end as is_deleveraging,
        cast(btc_next_support_usd as double) as btc_next_support_usd,
        cast({{ percent_change('btc_close_usd', 'btc_next_support_usd') }} as double)
            as btc_next_support_distance_pct,
        cast(btc_broken_support_usd as double) as btc_broken_support_usd,
        cast(cascade_count as integer) as cascade_count

    from joined

)

select * from final
