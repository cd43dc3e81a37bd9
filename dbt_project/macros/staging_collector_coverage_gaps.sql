{#- The staging model of one venue's collector coverage gaps: one row per gap x UTC day (the
    raw rows are already cut at midnight and to the landed window). The collector writes the
    same record for every venue, so every venue's model is this one, with its venue. -#}
{% macro staging_collector_coverage_gaps(venue) -%}
with

source as (

    {{ select_source_columns(venue, 'collector_coverage_gaps') }}

),

renamed as (

    select
        ---------- ids
        {{ generate_surrogate_key([
            "'" ~ venue ~ "'", 'stream', 'gap_start', 'uncovered_from',
        ]) }} as coverage_gap_id,
        '{{ venue }}' as exchange_id,
        stream,
        collector as collector_id,

        ---------- strings
        reason as gap_reason,
        detail as gap_detail,

        ---------- numerics
        date_diff('millisecond', uncovered_from, uncovered_until) / 1000.0 as uncovered_seconds,

        ---------- booleans
        gap_end is null as is_open_gap,

        ---------- timestamps
        gap_start as gap_started_at,
        gap_end as gap_ended_at,
        uncovered_from as uncovered_start_at,
        uncovered_until as uncovered_end_at,
        recorded_at,

        ---------- metadata
        dt as _partition_date,
        _source

    from source

)

select * from renamed
{%- endmacro %}
