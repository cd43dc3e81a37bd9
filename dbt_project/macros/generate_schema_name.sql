{#- Schemas are literal (STYLE C2): `+schema: marts` means the schema `marts` in every target.
    Dev and prod are separated by the DuckDB file path in profiles.yml, not by prefixes. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
