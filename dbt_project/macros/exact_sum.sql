{#- A sum whose result does not depend on the order the rows arrive in, as a double: each value
    rounded to 1e-10 and added exactly as a 128-bit decimal. A float sum's last bits depend on
    how DuckDB splits the rows between threads, so a refresh and a full rebuild would differ;
    an ORDER BY inside the aggregate fixes that too, but sorts every group (3-4 x slower over
    a year of liquidations, docs/benchmarks.md). `where` filters the rows summed; `over` names
    a window, for a window sum that is the same whichever rows its partition starts from (an
    incremental run's partitions start where its window's input does). -#}
{% macro exact_sum(expression, where=none, over=none) -%}
    cast(sum(cast({{ expression }} as decimal(38, 10)))
        {%- if where %} filter (where {{ where }}){% endif %}
        {%- if over %} over {{ over }}{% endif %} as double)
{%- endmacro %}

{#- Instruments of one asset added up at one instant (BTCUSDT and BTCUSDC open interest, say):
    the value itself when the asset has one instrument (most do; no rounding), else their
    exact_sum, which does not depend on the order the instruments arrive in. -#}
{% macro sum_over_instruments(expression) -%}
    case
        when count(*) = 1 then any_value({{ expression }})
        else {{ exact_sum(expression) }}
    end
{%- endmacro %}
