with

source as (

    {{ select_source_columns('binance', 'funding') }}

),

renamed as (

    select
        ---------- ids
        'binance' as exchange_id,
        symbol,

        ---------- strings
        {{ symbol_base_asset('symbol') }} as base_asset,
        {{ symbol_quote_asset('symbol') }} as quote_asset,
        {{ binance_contract_type('symbol') }} as contract_type,

        ---------- numerics
        funding_rate,
        funding_interval_hours,
        mark_price as mark_price_quote,

        ---------- timestamps
        funding_time as funding_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from source

),

deduplicated as (

    {#- Ties on _source are broken on the figures, so the kept row never depends on scan order. -#}
    select * from renamed
    qualify row_number() over (
        partition by symbol, funding_at
        order by _source, funding_rate, funding_interval_hours, mark_price_quote
    ) = 1

)

select * from deduplicated
