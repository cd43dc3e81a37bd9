{#- The run window from the vars, half-open [window_start, window_end), as validated dates. -#}
{% macro window_bound(name) -%}
    {%- set value = var(name) | string -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a date YYYY-MM-DD, got '" ~ value ~ "'") }}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{#- A predicate keeping rows whose date column lies in the run window, widened by `days_before`
    and `days_after` days. On a Hive partition column (`_partition_date`) DuckDB prunes the
    files outside the window. -#}
{% macro in_window(date_column, days_before=0, days_after=0) -%}
    ({{ date_column }} >= {{ window_bound('window_start') }}{{ _days(-days_before) }}
        and {{ date_column }} < {{ window_bound('window_end') }}{{ _days(days_after) }})
{%- endmacro %}

{% macro _days(count) -%}
    {%- if count > 0 %} + {{ count }}{% elif count < 0 %} - {{ -count }}{% endif -%}
{%- endmacro %}

{#- Pre-hook of the incremental facts and marts, which then append the window: delete the
    window (widened by `days_after`, for marts whose later rows look back into it) before the
    model writes it again, so rows that vanished from the source in that window disappear too.
    The facts' rows always fall in the window they are read for: the lake partitions each
    dataset by the event time the fact's date is cast from. With `rebuild_if` (a SQL
    condition), it deletes every row when the condition holds, and the model (reading through
    `in_refresh` with the same condition) builds them all again. Runs inside the model's
    transaction, so readers never see the window half-replaced. The models write their rows
    in date order (`order by` the date column): DuckDB keeps each row group's min and max, so
    the delete and the window's reads skip every other day's row groups, and a refresh costs
    the same with a month or years of history (written in no order, a day's rows sat in every
    row group of the year). -#}
{% macro delete_window(date_column, days_after=0, rebuild_if=none) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_window(date_column, 0, days_after) }}
        {%- if rebuild_if %} or ({{ rebuild_if }}){% endif %}
    {%- endif -%}
{%- endmacro %}

{#- The input predicate of an incremental mart: its window, widened by the days its rows look
    back (`days_before`) and forward (`days_after`); everything on a first build, when the
    table is empty, and when `rebuild_if` holds (pass the same condition as the pre-hook's
    `delete_window`, which then empties the table). Decided by one query when the model
    compiles, so the SQL keeps a plain date range that DuckDB pushes into the scan: an `or`
    with a subquery in the SQL made every refresh read every column of the whole history. -#}
{% macro in_refresh(date_column, days_before=0, days_after=0, rebuild_if=none) -%}
    {%- if refreshes_everything(rebuild_if) -%}
        true
    {%- else -%}
        {{ in_window(date_column, days_before, days_after) }}
    {%- endif -%}
{%- endmacro %}

{% macro refreshes_everything(rebuild_if=none) -%}
    {%- if not is_incremental() -%}
        {{ return(true) }}
    {%- elif not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set condition = 'not exists (select 1 from ' ~ this ~ ')' -%}
    {%- if rebuild_if -%}
        {%- set condition = condition ~ ' or (' ~ rebuild_if ~ ')' -%}
    {%- endif -%}
    {{ return(run_query('select ' ~ condition).columns[0].values()[0]) }}
{%- endmacro %}

{#- `rebuild_if` of the liquidation marts whose every captured day has a row per base asset of
    the exchange: an instrument first seen in the window adds its base asset to every day
    before it, and a base asset gone from dim_instruments leaves every day. Either is rare (a
    new listing); the mart is then rebuilt whole. `key_columns` is the mart's asset key. -#}
{% macro liquidation_assets_changed(key_columns) -%}
    exists (
        select 1 from {{ ref('dim_instruments') }} where {{ in_window('first_seen_date') }}
    )
    or exists (
        select {{ key_columns | join(', ') }} from {{ this }}
        except
        select {{ key_columns | join(', ') }} from {{ ref('dim_instruments') }}
    )
{%- endmacro %}

{#- dbt's `where` for generic tests, extended: a test of an incremental table whose config
    names `meta.tested_from_day` (its date column) reads only the rows from the run window's
    start on, the days the run may have written. Earlier days were tested by the run that
    wrote them (a key hashes the event's time, so a duplicate falls on one day), so a one-day
    refresh does not re-test years of history; a full build (the default window) tests every
    row. A mart that `rebuild_if` rebuilds whole is tested from the window start too: its
    older days come from the same SQL over the same, already tested facts. A test's own
    `where` still applies too. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') -%}
        {%- do conditions.append('(' ~ config.get('where') ~ ')') -%}
    {%- endif -%}
    {%- set day_column = _tested_model_meta().get('tested_from_day') -%}
    {%- if day_column -%}
        {%- do conditions.append(day_column ~ ' >= ' ~ window_bound('window_start')) -%}
    {%- endif -%}
    {%- if not conditions -%}
        {{ return(relation) }}
    {%- endif -%}
    {{ return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') }}
{%- endmacro %}

{% macro _tested_model_meta() -%}
    {%- set tested = graph.nodes.get(model.attached_node or '') if execute else none -%}
    {{ return(tested.config.meta if tested else {}) }}
{%- endmacro %}
