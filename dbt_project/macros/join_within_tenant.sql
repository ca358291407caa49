{#
    A join on a key within the same tenant:

        <join_type> join <to_alias>
            on <from_alias>.tenant_id = <to_alias>.tenant_id
            and <from_alias>.<key> = <to_alias>.<to_key>

    ServiceTitan ids are unique only within a tenant, and several tenants can share this
    warehouse: a join on the id alone would match customer 42 of tenant A with customer 42 of
    tenant B. Joins on a key go through this macro, so the tenant condition is written once and
    cannot be forgotten (the recursive merge chain of int_customers__merge_resolved, which joins
    one relation under two aliases, spells it out). `to_key` defaults to `key`.

    Usage:
        from jobs
        {{ join_within_tenant('jobs', 'customer_merges', 'customer_id') }}
        {{ join_within_tenant('invoices', 'originals', 'adjustment_to_invoice_id', 'invoice_id') }}
#}
{% macro join_within_tenant(from_alias, to_alias, key, to_key=none, join_type='left') -%}
    {{ join_type }} join {{ to_alias }}
        on {{ from_alias }}.tenant_id = {{ to_alias }}.tenant_id
        and {{ from_alias }}.{{ key }} = {{ to_alias }}.{{ to_key or key }}
{%- endmacro %}
