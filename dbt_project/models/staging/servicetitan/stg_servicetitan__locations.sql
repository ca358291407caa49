with

source as (

    select * from {{ source('servicetitan', 'locations') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as location_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.mergedToId'") }} as merged_to_location_id,
        {{ st_id("payload ->> '$.zoneId'") }} as zone_id,
        {{ st_id("payload ->> '$.taxZoneId'") }} as tax_zone_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,

        -- attributes
        payload ->> '$.name' as location_name,

        -- address
        {{ st_address('$.address', 'address') }},
        cast(payload ->> '$.address.latitude' as double) as address_latitude,
        cast(payload ->> '$.address.longitude' as double) as address_longitude,

        -- flags
        active as is_active,
        {{ st_id("payload ->> '$.mergedToId'") }} is not null as is_merged,
        {{ st_bool("payload ->> '$.taxExempt'") }} as is_tax_exempt,

        -- json
        {{ st_id_list("payload -> '$.tagTypeIds'") }} as tag_type_ids,
        payload -> '$.customFields' as custom_fields,
        payload -> '$.externalData' as external_data,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
