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

{#- A source read over a window of at most a year names the window's day directories instead
    of globbing every day. read_parquet with `union_by_name` opens the footer of every file the
    glob matches before the `dt` filter prunes them (at a year of klines, 14,640 files: 2 s per
    one-day read instead of 0.01 s), and read_text reads every file. read_text accepts
    patterns that match nothing (a day not landed); read_parquet does not, so for it the days
    are those of the window a listing of the directories finds (a glob lists names without
    opening files). With no such day, the relation is left whole (it reads nothing). -#}
{% macro window_day_files(relation) -%}
    {%- set external = relation.external if relation.external is defined else none -%}
    {%- set found = modules.re.search(
        "(read_text|read_parquet)\\(\\s*'([^']*/dt=\\*/[^']*)'", external or '') -%}
    {%- set start = modules.datetime.date.fromisoformat(var('window_start') | string) -%}
    {%- set end = modules.datetime.date.fromisoformat(var('window_end') | string) -%}
    {%- if not execute or not found or (end - start).days > 366 -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set reader, pattern = found.group(1), found.group(2) -%}
    {%- set days = [] -%}
    {%- for offset in range((end - start).days) -%}
        {%- do days.append((start + modules.datetime.timedelta(days=offset)).isoformat()) -%}
    {%- endfor -%}
    {%- if reader == 'read_parquet' -%}
        {%- set listed = run_query(
            "select distinct regexp_extract(file, '/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/', 1) "
            ~ "from glob('" ~ pattern | replace("'", "''") ~ "')") -%}
        {%- set landed = listed.columns[0].values() | list -%}
        {%- set days = days | select('in', landed) | list -%}
        {%- if not days -%}
            {{ return(relation) }}
        {%- endif -%}
    {%- endif -%}
    {%- set day_patterns = [] -%}
    {%- for day in days -%}
        {%- do day_patterns.append("'" ~ pattern.replace('dt=*', 'dt=' ~ day) ~ "'") -%}
    {%- endfor -%}
    {{ return(external.replace("'" ~ pattern ~ "'", "[" ~ day_patterns | join(', ') ~ "]")) }}
{%- endmacro %}
