{#- The side of the LIQUIDATED POSITION, 'long' or 'short', from a venue's side field.

    forced_order_side=true: the field is the side of the forced (closing) order, as on Binance
    (`S` of forceOrder): a SELL order closes a long, a BUY order closes a short.
    forced_order_side=false: the field already names the position (BUY/LONG = a long).
    Anything else gives NULL, which the staging accepted_values/not_null tests reject. -#}
{% macro normalize_position_side(side_column, forced_order_side=true) -%}
    {%- set long_side = 'SELL' if forced_order_side else 'BUY' -%}
    {%- set short_side = 'BUY' if forced_order_side else 'SELL' -%}
    case
        when upper({{ side_column }}) = '{{ long_side }}' then 'long'
        when upper({{ side_column }}) = '{{ short_side }}' then 'short'
        {%- if not forced_order_side %}
        when upper({{ side_column }}) = 'LONG' then 'long'
        when upper({{ side_column }}) = 'SHORT' then 'short'
        {%- endif %}
    end
{%- endmacro %}
