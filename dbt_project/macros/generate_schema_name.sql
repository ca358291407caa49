{#
    Use a model's custom schema name as is (`staging`, `intermediate`) instead of dbt's default
    `<target schema>_<custom schema>`: analysts see `staging.stg_servicetitan__jobs`, and models
    without a custom schema (marts, reports) land in the target schema, DuckDB's `main`.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
