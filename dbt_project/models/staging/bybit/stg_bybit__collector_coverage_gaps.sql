{#- The liquidation collector's coverage gaps for bybit, one row per gap x UTC day (the raw
    rows are already cut at midnight and to the landed window). No venue semantics to
    normalise: the collector writes the same record for every venue. -#}
with

source as (

    {{ select_source_columns('bybit', 'collector_coverage_gaps') }}

),

renamed as (

    select
        ---------- ids
        {{ generate_surrogate_key([
            "'bybit'", 'stream', 'gap_start', 'uncovered_from',
        ]) }} as coverage_gap_id,
        'bybit' as exchange_id,
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
