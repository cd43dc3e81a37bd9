{#- OKX `liquidation-orders` semantics, normalised (STYLE D3):
    - `pos_side` is the liquidated POSITION (long / short); in one-way (net) mode it is `net`
      and the ORDER's `side` says it: a sell closes (liquidates) a long, a buy a short;
    - `sz` is in CONTRACTS: the coin quantity is contracts x ct_val x ct_mult of the instrument
      (stg_okx__instruments: the latest snapshot at or before the liquidation, or the first
      snapshot for liquidations before it, since the list is landed from the first run on and
      a swap's contract value does not change). REST rows may name only the family: their
      instrument is `<family>-SWAP`;
    - OKX publishes no fill price, so the notional is the coin quantity x the BANKRUPTCY price
      `bkPx` (price_basis = 'bankruptcy');
    - the channel pushes every liquidation: is_sampled_feed = false. The connector already
      collapsed copies (websocket re-pushes, REST polls), so equal rows are distinct
      liquidations: the id numbers them;
    - only linear swaps are kept (quote asset in var('quote_assets'), e.g. BTC-USDT): the
      channel also carries coin-margined swaps (BTC-USD-SWAP), sized in USD, which this
      USD-margined warehouse does not cover.
    `symbol` is the warehouse's spelling (BTC-USDT -> BTCUSDT). -#}
with

source as (

    {{ select_source_columns('okx', 'liquidations') }}

),

instruments as (

    select * from {{ ref('stg_okx__instruments') }}

),

contract_terms as (

    {#- Each snapshot's terms apply from its time to the next snapshot's; the first snapshot's
        also to everything before it. -#}
    select
        venue_instrument_id,
        contract_size_coin,
        case
            when row_number() over by_instrument = 1 then cast('-infinity' as timestamp)
            else snapshot_at
        end as valid_from,
        coalesce(lead(snapshot_at) over by_instrument, cast('infinity' as timestamp))
            as valid_to

    from instruments

    window by_instrument as (partition by venue_instrument_id order by snapshot_at)

),

linear as (

    select
        *,
        coalesce(inst_id, inst_family || '-SWAP') as instrument,
        row_number() over (
            partition by inst_family, trade_time, side, pos_side, qty_contracts, bankruptcy_price
            order by received_at nulls last, _source, repeat_index
        ) as event_ordinal

    from source

    where split_part(inst_family, '-', 2) in (
        {%- for quote in var('quote_assets') %}'{{ quote }}'{{ ', ' if not loop.last }}{% endfor -%}
    )

),

sized as (

    select
        linear.*,
        linear.qty_contracts * contract_terms.contract_size_coin as qty_coin

    from linear

    left join contract_terms
        on linear.instrument = contract_terms.venue_instrument_id
        and linear.trade_time >= contract_terms.valid_from
        and linear.trade_time < contract_terms.valid_to

),

renamed as (

    select
        ---------- ids
        {{ generate_surrogate_key([
            "'okx'", 'inst_family', 'trade_time', 'side', 'pos_side', 'qty_contracts',
            'bankruptcy_price', 'event_ordinal',
        ]) }} as liquidation_id,
        'okx' as exchange_id,
        split_part(inst_family, '-', 1) || split_part(inst_family, '-', 2) as symbol,

        ---------- strings
        split_part(inst_family, '-', 1) as base_asset,
        split_part(inst_family, '-', 2) as quote_asset,
        'perpetual' as contract_type,
        upper(side) as order_side,
        coalesce(
            {{ normalize_position_side('pos_side', forced_order_side=false) }},
            case when lower(pos_side) = 'net' then
                {{ normalize_position_side('side', forced_order_side=true) }}
            end
        ) as position_side,
        cast(null as varchar) as order_type,
        cast(null as varchar) as time_in_force,
        cast(null as varchar) as order_status,
        'bankruptcy' as price_basis,

        ---------- numerics
        qty_coin as liquidated_qty_coin,
        cast(null as double) as order_qty_coin,
        bankruptcy_price as avg_fill_price_quote,
        bankruptcy_price as order_price_quote,
        qty_coin * bankruptcy_price as liquidated_notional_quote,

        ---------- booleans
        false as is_sampled_feed,

        ---------- timestamps
        trade_time as liquidated_at,
        cast(null as timestamp) as event_at,
        received_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from sized

)

select * from renamed
