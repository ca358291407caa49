{#
    Custom fields of every entity that has them, in long format: one row per record and field.
    CRM, job and technician custom fields carry a `typeId`; accounting ones (invoices,
    payments) only a name.
#}

{%- set sources = [
    ('customers', 'stg_servicetitan__customers', 'customer_id'),
    ('locations', 'stg_servicetitan__locations', 'location_id'),
    ('jobs', 'stg_servicetitan__jobs', 'job_id'),
    ('technicians', 'stg_servicetitan__technicians', 'technician_id'),
    ('invoices', 'stg_servicetitan__invoices', 'invoice_id'),
    ('payments', 'stg_servicetitan__payments', 'payment_id'),
] %}

with

{% for entity, model, id_column in sources %}
{{ entity }} as (

    select
        tenant_id,
        '{{ entity }}' as entity,
        {{ id_column }} as record_id,
        generate_subscripts(fields, 1) as field_position,
        unnest(fields) as field
    from (
        select
            tenant_id,
            {{ id_column }},
            from_json(
                custom_fields, '[{"typeId": "BIGINT", "name": "VARCHAR", "value": "VARCHAR"}]'
            ) as fields
        from {{ ref(model) }}
        where custom_fields is not null
    )

),
{% endfor %}

unioned as (

    {% for entity, model, id_column in sources %}
    select
        tenant_id,
        entity,
        record_id,
        field_position,
        field.typeId as custom_field_type_id,
        field.name as custom_field_name,
        field.value as custom_field_value
    from {{ entity }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
