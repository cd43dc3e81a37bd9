{#- Fails on every row where the expression is not true. Applied to a column, the expression
    continues it (`expression: ">= 0"` checks `<column> >= 0`); applied to a model, it is a
    whole predicate (`expression: "total_usd >= long_usd"`). NULL counts as not true unless the
    expression says otherwise, so pair it with `where` to skip rows it does not apply to. -#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce(
    {%- if column_name %} {{ column_name }} {{ expression }}
    {%- else %} {{ expression }}
    {%- endif %}, false)

{% endtest %}
