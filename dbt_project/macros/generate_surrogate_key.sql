{#- md5 of the given expressions cast to text and joined with '-'; NULL becomes a fixed token
    so that (NULL, 'a') and ('', 'a') hash differently. Deterministic across runs. -#}
{% macro generate_surrogate_key(expressions) -%}
    md5(concat_ws('-'
        {%- for expression in expressions %},
        coalesce(cast({{ expression }} as varchar), '__null__')
        {%- endfor %}
    ))
{%- endmacro %}
