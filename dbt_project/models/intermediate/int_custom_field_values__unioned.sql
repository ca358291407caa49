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

custom_field_lists as (

    {% for entity, model, id_column in sources %}
        select
            tenant_id,
            '{{ entity }}' as entity,
            {{ id_column }} as record_id,
            from_json(
                custom_fields, '[{"typeId": "BIGINT", "name": "VARCHAR", "value": "VARCHAR"}]'
            ) as custom_field_list
        from {{ ref(model) }}
        where custom_fields is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

unnested as (

    select
        custom_field_lists.tenant_id,
        custom_field_lists.entity,
        custom_field_lists.record_id,
        generate_subscripts(custom_field_lists.custom_field_list, 1) as field_position,
        unnest(custom_field_lists.custom_field_list) as custom_field
    from custom_field_lists

),

unioned as (

    select
        unnested.tenant_id,
        unnested.entity,
        unnested.record_id,
        unnested.field_position,
        unnested.custom_field.typeId as custom_field_type_id,
        unnested.custom_field.name as custom_field_name,
        unnested.custom_field.value as custom_field_value
    from unnested

)

select * from unioned
