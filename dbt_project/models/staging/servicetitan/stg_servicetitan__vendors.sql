with

source as (

    select * from {{ source('servicetitan', 'vendors') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as vendor_id,

        -- attributes
        {{ st_address('$.address', 'address') }},
        payload ->> '$.contactInfo.email' as contact_email,
        payload ->> '$.contactInfo.fax' as contact_fax,
        payload ->> '$.contactInfo.firstName' as contact_first_name,
        payload ->> '$.contactInfo.lastName' as contact_last_name,
        payload ->> '$.contactInfo.phone' as contact_phone,
        payload ->> '$.deliveryOption' as delivery_option,
        payload ->> '$.memo' as memo,
        payload ->> '$.name' as vendor_name,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_decimal("payload ->> '$.defaultTaxRate'") }} as default_tax_rate,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isMobileCreationRestricted'") }}
            as is_mobile_creation_restricted,
        {{ st_bool("payload ->> '$.isTruckReplenishment'") }} as is_truck_replenishment,

        -- json
        payload -> '$.customFields' as custom_fields,
        payload -> '$.externalData' as external_data,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
