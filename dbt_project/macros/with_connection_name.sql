{#
    The last select of every mart and report: `relation`'s rows with the tenant's connection
    name next to its `tenant_id`:

        select <relation>.tenant_id, tenant_names.connection_name, <relation>.* exclude (tenant_id)
        from <relation>
        left join int_tenants as tenant_names on <relation>.tenant_id = tenant_names.tenant_id

    The raw layer stamps each row with the name of the connection that loaded it (`_connection`),
    and a connection can be renamed between two syncs: taking the row's own name would show one
    company under two names. int_tenants (dim_tenants' rows) holds one name per tenant, that of
    its latest load, so every model shows the same name for a tenant, and a rename shows
    everywhere at the next build. A left join, so that no row can be lost by it.

    Usage: the model's last statement, `{{ select_with_connection_name('final') }}`.
#}
{% macro select_with_connection_name(relation) -%}
select
    {{ relation }}.tenant_id,
    tenant_names.connection_name,
    {{ relation }}.* exclude (tenant_id)
from {{ relation }}
left join {{ ref('int_tenants') }} as tenant_names
    on {{ relation }}.tenant_id = tenant_names.tenant_id
{%- endmacro %}
