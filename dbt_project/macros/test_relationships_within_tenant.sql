{#
    Generic test: every non-null `column_name` has a matching `field` in `to`, within the same
    tenant.

    dbt's built-in `relationships` test compares one column, but ServiceTitan ids are only unique
    within a tenant and several tenants may share this warehouse: customer 42 of tenant A must not
    be "found" among tenant B's customers. So both sides are joined on the tenant column too.

    Usage:
        columns:
          - name: customer_id
            data_tests:
              - relationships_within_tenant:
                  arguments:
                    to: ref('dim_customers')
                    field: customer_id
#}
{% test relationships_within_tenant(model, column_name, to, field, tenant_column='tenant_id') %}

    select
        child.{{ tenant_column }},
        child.{{ column_name }}
    from {{ model }} as child
    left join {{ to }} as parent
        on child.{{ tenant_column }} = parent.{{ tenant_column }}
        and child.{{ column_name }} = parent.{{ field }}
    where child.{{ column_name }} is not null
        and parent.{{ field }} is null

{% endtest %}
