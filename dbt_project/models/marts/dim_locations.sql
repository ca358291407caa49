with

locations as (

    select * from {{ ref('stg_servicetitan__locations') }}

),

final as (

    select
        tenant_id,
        location_id,
        customer_id,
        location_name,
        is_active,
        is_merged,
        merged_to_location_id,
        address_street,
        address_unit,
        address_city,
        address_state,
        address_zip,
        address_country,
        address_latitude,
        address_longitude,
        zone_id,
        tax_zone_id,
        is_tax_exempt,
        tag_type_ids,
        custom_fields,
        created_at,
        modified_at,
        loaded_at
    from locations

)

{{ select_with_connection_name('final') }}
