{#- The run window from the vars, half-open [window_start, window_end), as validated dates. -#}
{% macro window_bound(name) -%}
    {%- set value = var(name) | string -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a date YYYY-MM-DD, got '" ~ value ~ "'") }}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{#- A predicate keeping rows whose date column lies in the run window. On a Hive partition
    column (`_partition_date`) DuckDB prunes the files outside the window. -#}
{% macro in_window(date_column) -%}
    ({{ date_column }} >= {{ window_bound('window_start') }}
        and {{ date_column }} < {{ window_bound('window_end') }})
{%- endmacro %}

{#- Pre-hook of the incremental facts: delete the whole window before delete+insert writes it
    again, so rows that vanished from the source in that window disappear too (delete+insert
    alone only replaces keys that are present in the new batch). Runs inside the model's
    transaction, so readers never see the window half-replaced. -#}
{% macro delete_window(date_column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_window(date_column) }}
    {%- endif -%}
{%- endmacro %}
