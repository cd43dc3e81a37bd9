{#- Calendar periods for the rollups. grain is 'day', 'week' (ISO week, Monday start, UTC) or
    'month'. DuckDB's date_trunc('week', ...) truncates to Monday. -#}
{% macro check_period_grain(grain) -%}
    {%- if grain not in ('day', 'week', 'month') -%}
        {{ exceptions.raise_compiler_error("grain must be day, week or month, got " ~ grain) }}
    {%- endif -%}
{%- endmacro %}

{% macro period_start_date(date_column, grain) -%}
    {{- check_period_grain(grain) -}}
    cast(date_trunc('{{ grain }}', {{ date_column }}) as date)
{%- endmacro %}

{% macro period_length_days(period_start_column, grain) -%}
    {{- check_period_grain(grain) -}}
    {%- if grain == 'day' -%}
        1
    {%- elif grain == 'week' -%}
        7
    {%- else -%}
        day(last_day({{ period_start_column }}))
    {%- endif -%}
{%- endmacro %}

{% macro previous_period_start_date(period_start_column, grain) -%}
    {{- check_period_grain(grain) -}}
    cast({{ period_start_column }} - interval 1 {{ grain }} as date)
{%- endmacro %}

{#- Percent change of `current` over `previous` (-1.88 means -1.88 %); NULL when there is no
    previous value or it is zero. -#}
{% macro percent_change(current, previous) -%}
    ({{ current }} / nullif({{ previous }}, 0) - 1) * 100
{%- endmacro %}
