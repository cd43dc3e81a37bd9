with

exchanges as (

    select * from {{ ref('exchanges') }}

),

final as (

    select
        exchange_id,
        exchange_name,
        market,
        has_sampled_liquidation_feed,
        open_interest_sidedness,
        quantity_unit,
        liquidation_feed

    from exchanges

)

select * from final
