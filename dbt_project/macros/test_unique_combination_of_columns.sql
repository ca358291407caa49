{#
    Generic test: no two rows share the same values of `combination_of_columns`.

    dbt_utils has the same test, but dbt packages cannot be installed here (no network to the dbt
    hub), and every key in this project is compound: several ServiceTitan tenants can share the
    warehouse, so a record is identified by (tenant_id, <entity>_id).

    Usage:
        data_tests:
          - unique_combination_of_columns:
              arguments:
                combination_of_columns: [tenant_id, customer_id]
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set columns_csv = combination_of_columns | join(', ') %}

    select
        {{ columns_csv }},
        count(*) as n_records
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1

{% endtest %}
