{#- The same Binance open-interest snapshot may arrive in two payloads (archive and REST);
    staging keeps one. That is only safe when they agree: this fails once per symbol and
    snapshot time whose copies in the raw lake carry different figures. -#}
with

source as (

    {{ select_source_columns('binance', 'open_interest') }}

)

select
    symbol,
    snapshot_at,
    count(*) as copies,
    count(distinct open_interest_base) as distinct_open_interest_base,
    count(distinct open_interest_quote) as distinct_open_interest_quote

from source

group by 1, 2

having count(distinct open_interest_base) > 1
    or count(distinct open_interest_quote) > 1
