{#- Bybit funding settlements. The history states neither the interval nor a mark price: both
    are NULL here (fct_funding_rates derives the interval from consecutive settlements).
    Dated linear futures carry a `-DDMMMYY` suffix (BTCUSDT-26MAR27); perpetuals none. -#}
{%- set dated_suffix = "'-[0-9]{2}[A-Z]{3}[0-9]{2}$'" -%}
{%- set undated_symbol = "regexp_replace(symbol, " ~ dated_suffix ~ ", '')" -%}
with

source as (

    {{ select_source_columns('bybit', 'funding') }}

),

renamed as (

    select
        ---------- ids
        'bybit' as exchange_id,
        symbol,

        ---------- strings
        {{ symbol_base_asset(undated_symbol) }} as base_asset,
        {{ symbol_quote_asset(undated_symbol) }} as quote_asset,
        case when regexp_matches(symbol, {{ dated_suffix }}) then 'delivery' else 'perpetual' end
            as contract_type,

        ---------- numerics
        funding_rate,
        cast(null as integer) as funding_interval_hours,
        cast(null as double) as mark_price_quote,

        ---------- timestamps
        funding_time as funding_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from source

),

deduplicated as (

    select * from renamed
    qualify row_number() over (
        partition by symbol, funding_at
        order by _source, funding_rate
    ) = 1

)

select * from deduplicated
