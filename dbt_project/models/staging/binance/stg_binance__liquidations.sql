{#- Binance semantics, normalised (STYLE D3):
    - `order_side` is the side of the forced ORDER: SELL liquidates a long, BUY a short;
    - the liquidated quantity is `filled_qty` (base coin) and its notional is
      filled_qty x avg_price (quote asset, USDT);
    - the public stream pushes at most one liquidation per symbol per second, so every row is
      flagged as coming from a sampled feed. -#}
with

source as (

    {{ select_source_columns('binance', 'liquidations') }}

),

renamed as (

    select
        ---------- ids
        {{ generate_surrogate_key([
            "'binance'", 'symbol', 'trade_time', 'order_side', 'filled_qty', 'avg_price',
        ]) }} as liquidation_id,
        'binance' as exchange_id,
        symbol,

        ---------- strings
        {{ symbol_base_asset('symbol') }} as base_asset,
        {{ symbol_quote_asset('symbol') }} as quote_asset,
        {{ binance_contract_type('symbol') }} as contract_type,
        order_side,
        {{ normalize_position_side('order_side', forced_order_side=true) }} as position_side,
        order_type,
        time_in_force,
        order_status,
        'average_fill' as price_basis,

        ---------- numerics
        filled_qty as liquidated_qty_coin,
        original_qty as order_qty_coin,
        avg_price as avg_fill_price_quote,
        order_price as order_price_quote,
        filled_qty * avg_price as liquidated_notional_quote,

        ---------- booleans
        true as is_sampled_feed,

        ---------- timestamps
        trade_time as liquidated_at,
        event_time as event_at,
        received_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from source

),

deduplicated as (

    {#- The same event received twice (a websocket re-send in another segment) differs only in
        received_at/_source: keep the first receipt. -#}
    select * from renamed
    qualify row_number() over (
        partition by liquidation_id
        order by received_at, _source
    ) = 1

)

select * from deduplicated
