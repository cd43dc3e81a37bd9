{#- Bybit `allLiquidation` semantics, normalised (STYLE D3):
    - `side` is the side of the liquidated POSITION (Buy = a long was liquidated), the
      opposite of Binance's order side; `order_side` is the closing order's side derived from
      it (a long is closed by a SELL), in Binance's spelling;
    - the liquidated quantity is `v` (base coin); Bybit publishes no fill price, so the notional
      is `v` x the BANKRUPTCY price `p` (price_basis = 'bankruptcy'), which sits beyond the
      fill price: a close approximation of the liquidated value, not the traded one;
    - the topic pushes every liquidation (500 ms batches): is_sampled_feed = false. The
      connector lands each recorded event once (equal events of one message apart by
      `repeat_index`), so equal rows (same symbol, side, millisecond, size and price) are
      distinct liquidations: the id numbers them (the raw suite warns when they occur).
    Dated linear futures carry a `-DDMMMYY` suffix (BTCUSDT-26MAR27); perpetuals none. -#}
{%- set dated_suffix = "'-[0-9]{2}[A-Z]{3}[0-9]{2}$'" -%}
{%- set undated_symbol = "regexp_replace(symbol, " ~ dated_suffix ~ ", '')" -%}
with

source as (

    {{ select_source_columns('bybit', 'liquidations') }}

),

numbered as (

    select
        *,
        row_number() over (
            partition by symbol, trade_time, side, executed_qty, bankruptcy_price
            order by received_at, event_time, _source, repeat_index
        ) as event_ordinal

    from source

),

renamed as (

    select
        ---------- ids
        {{ generate_surrogate_key([
            "'bybit'", 'symbol', 'trade_time', 'side', 'executed_qty', 'bankruptcy_price',
            'event_ordinal',
        ]) }} as liquidation_id,
        'bybit' as exchange_id,
        symbol,

        ---------- strings
        {{ symbol_base_asset(undated_symbol) }} as base_asset,
        {{ symbol_quote_asset(undated_symbol) }} as quote_asset,
        case when regexp_matches(symbol, {{ dated_suffix }}) then 'delivery' else 'perpetual' end
            as contract_type,
        case upper(side) when 'BUY' then 'SELL' when 'SELL' then 'BUY' end as order_side,
        {{ normalize_position_side('side', forced_order_side=false) }} as position_side,
        cast(null as varchar) as order_type,
        cast(null as varchar) as time_in_force,
        cast(null as varchar) as order_status,
        'bankruptcy' as price_basis,

        ---------- numerics
        executed_qty as liquidated_qty_coin,
        cast(null as double) as order_qty_coin,
        bankruptcy_price as avg_fill_price_quote,
        bankruptcy_price as order_price_quote,
        executed_qty * bankruptcy_price as liquidated_notional_quote,

        ---------- booleans
        false as is_sampled_feed,

        ---------- timestamps
        trade_time as liquidated_at,
        event_time as event_at,
        received_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from numbered

)

select * from renamed
