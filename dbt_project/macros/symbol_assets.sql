{#- Suffix rule for concatenated symbols such as Binance's `BTCUSDT`, `1000PEPEUSDT` or the
    dated `BTCUSDT_250328`: <base><quote>[_<yymmdd>], where <quote> is one of
    var('quote_assets'). The base is matched lazily, so the longest quote wins (USDT before
    USD). An unknown quote gives NULL (the staging not_null tests fail loudly,
    so a new quote asset is added on purpose, with its USD rate). -#}
{% macro symbol_asset_pattern() -%}
    ^(.+?)({{ var('quote_assets') | join('|') }})(_[0-9]{6})?$
{%- endmacro %}

{% macro symbol_base_asset(symbol_column) -%}
    nullif(regexp_extract({{ symbol_column }}, '{{ symbol_asset_pattern() }}', 1), '')
{%- endmacro %}

{% macro symbol_quote_asset(symbol_column) -%}
    nullif(regexp_extract({{ symbol_column }}, '{{ symbol_asset_pattern() }}', 2), '')
{%- endmacro %}

{#- Binance USD-M: a `_yymmdd` suffix marks a delivery (quarterly) future, else perpetual. -#}
{% macro binance_contract_type(symbol_column) -%}
    case
        when regexp_matches({{ symbol_column }}, '_[0-9]{6}$') then 'delivery'
        else 'perpetual'
    end
{%- endmacro %}

{#- 'binance:BTCUSDT:perpetual' (STYLE N, keys): readable, unique per exchange. -#}
{% macro instrument_id(exchange_column, symbol_column, contract_type_column) -%}
    {{ exchange_column }} || ':' || {{ symbol_column }} || ':' || {{ contract_type_column }}
{%- endmacro %}
