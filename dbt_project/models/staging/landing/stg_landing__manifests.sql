{#- Parses the landing `part` into the slice it names: `all` = a market-wide capture, `<SYMBOL>`
    or `<SYMBOL>-<interval>` (klines) = one instrument. -#}
with

source as (

    {{ select_source_columns('landing', 'manifests') }}

),

renamed as (

    select
        ---------- ids
        venue as exchange_id,
        dataset,
        part,
        case
            when part = 'all' then null
            when dataset = 'klines' then regexp_extract(part, '^(.+)-([^-]+)$', 1)
            else part
        end as symbol,

        ---------- strings
        case
            when dataset = 'klines' then regexp_extract(part, '^(.+)-([^-]+)$', 2)
        end as kline_interval,
        file_sha256,

        ---------- numerics
        "rows" as landed_row_count,

        ---------- booleans
        part = 'all' as is_market_wide,

        ---------- dates
        day as capture_date,

        ---------- timestamps
        cast(cast(landed_at as timestamptz) at time zone 'UTC' as timestamp) as landed_at,
        cast(
            list_min(
                list_transform(sources, lambda payload: cast(payload.fetched_at as timestamptz))
            ) at time zone 'UTC' as timestamp
        ) as first_fetched_at,

        ---------- metadata
        dt as _partition_date

    from source

)

select * from renamed
