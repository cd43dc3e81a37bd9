{#- Fails once per combination of the given columns that occurs on more than one row: the
    grain test of a model whose key spans several columns (e.g. day x exchange x asset). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as row_count
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
