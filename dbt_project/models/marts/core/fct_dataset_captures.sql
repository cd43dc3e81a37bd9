{{
    config(
        materialized = 'incremental',
        incremental_strategy = 'append',
        on_schema_change = 'fail',
        pre_hook = "{{ delete_window('capture_date') }}",
    )
}}
{#- Capture coverage, loaded over the same window as the other facts so that a day is in the
    coverage exactly when its rows are in the facts (never a zero for a day not loaded). -#}
with

manifests as (

    select * from {{ ref('stg_landing__manifests') }}
    where {{ in_window('_partition_date') }}

),

captures as (

    select
        {{ generate_surrogate_key([
            'exchange_id', 'dataset', 'part', 'capture_date',
        ]) }} as capture_id,
        exchange_id,
        dataset,
        part,
        symbol,
        kline_interval,
        is_market_wide,
        landed_row_count,
        file_sha256,
        landed_at,
        capture_date

    from manifests

    where {{ in_window('capture_date') }}

)

-- in date order: a window's delete and reads skip the other days' row groups (window.sql)
select * from captures
order by capture_date
