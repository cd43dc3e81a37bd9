{#- The body of a staging import CTE: the source's documented columns, named explicitly (so raw
    schema drift never leaks downstream), read through dbt-duckdb's external_location: the day
    partitions (`dt`) of the run window only, or every one when `windowed` is false.

    A glob that matches no file at all (a dataset never landed on a fresh lake) makes DuckDB's
    read_parquet/read_json fail. In that case this returns a typed, empty relation built from
    the `data_type`s in the source YAML, so the build still works. Days without events are
    landed as empty parquet files, which read normally. -#}
{% macro select_source_columns(source_name, table_name, windowed=true) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if windowed -%}
        {%- set relation = window_day_files(relation) -%}
    {%- endif -%}
    {%- set columns = source_columns(source_name, table_name) -%}
    {%- if source_has_files(relation) %}
    select
        {%- for column in columns %}
        {{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    {%- if windowed %}
    where {{ in_window('dt') }}
    {%- endif %}
    {%- else %}
    -- no file matches this source yet: an empty relation with the documented types
    select
        {%- for column in columns %}
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
        {%- endfor %}
    where false
    {%- endif %}
{%- endmacro %}

{#- The columns (name, data_type) declared for a source table in its YAML, in order. -#}
{% macro source_columns(source_name, table_name) -%}
    {%- if not execute -%}
        {{ return([{'name': '*', 'data_type': none}]) }}
    {%- endif -%}
    {%- set matches = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name)
        | list -%}
    {%- set columns = matches[0].columns.values() | list if matches else [] -%}
    {%- if not columns -%}
        {{ exceptions.raise_compiler_error(
            "source " ~ source_name ~ "." ~ table_name ~ " declares no columns") }}
    {%- endif -%}
    {%- for column in columns if not column.data_type -%}
        {{ exceptions.raise_compiler_error(
            "source column " ~ table_name ~ "." ~ column.name ~ " needs a data_type") }}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- True unless the relation is an external read whose glob matches no file. Relations that
    are not external reads (e.g. unit-test fixtures) count as present. -#}
{% macro source_has_files(relation) -%}
    {%- set external = relation.external if relation.external is defined else none -%}
    {%- if not execute or not external -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set found = modules.re.search("read_[a-z_]+\(\s*'([^']+)'", external) -%}
    {%- if not found -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set pattern = found.group(1) | replace("'", "''") -%}
    {%- set result = run_query("select count(*) from glob('" ~ pattern ~ "')") -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- A text source (`read_text`, the landing manifests) read over a window of at most a year
    names the window's day directories instead of globbing every day: read_text reads each
    file it matches before the `dt` filter can drop it, so a one-day refresh would otherwise
    read the whole history's manifests. read_text accepts patterns that match nothing (a day
    not landed); read_parquet does not, so parquet sources keep their glob, which DuckDB
    prunes to the window's `dt` directories before reading. -#}
{% macro window_day_files(relation) -%}
    {%- set external = relation.external if relation.external is defined else none -%}
    {%- set found = modules.re.search("read_text\(\s*'([^']*/dt=\*/[^']*)'", external or '') -%}
    {%- set start = modules.datetime.date.fromisoformat(var('window_start') | string) -%}
    {%- set end = modules.datetime.date.fromisoformat(var('window_end') | string) -%}
    {%- if not execute or not found or (end - start).days > 366 -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set pattern = found.group(1) -%}
    {%- set day_patterns = [] -%}
    {%- for offset in range((end - start).days) -%}
        {%- set day = start + modules.datetime.timedelta(days=offset) -%}
        {%- do day_patterns.append("'" ~ pattern.replace('dt=*', 'dt=' ~ day.isoformat()) ~ "'") -%}
    {%- endfor -%}
    {{ return(external.replace(
        "'" ~ pattern ~ "'", "[" ~ (day_patterns | join(', ') or "''") ~ "]")) }}
{%- endmacro %}
