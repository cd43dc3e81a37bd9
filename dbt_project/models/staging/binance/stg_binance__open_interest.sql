{#- Binance open interest is one-sided: the contracts of one side of the book. -#}
with

source as (

    {{ select_source_columns('binance', 'open_interest') }}

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
        open_interest_base as open_interest_coin,
        open_interest_quote,

        ---------- timestamps
        snapshot_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from source

),

deduplicated as (

    {#- Ties on _source are broken on the figures, so the kept row never depends on scan order. -#}
    select * from renamed
    qualify row_number() over (
        partition by symbol, snapshot_at
        order by _source, open_interest_coin, open_interest_quote
    ) = 1

)

select * from deduplicated
