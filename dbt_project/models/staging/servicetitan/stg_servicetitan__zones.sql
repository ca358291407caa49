with

source as (

    select * from {{ source('servicetitan', 'zones') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as zone_id,
        {{ st_id("payload ->> '$.createdBy'") }} as created_by_id,

        -- attributes
        payload ->> '$.name' as zone_name,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.serviceDaysEnabled'") }} as is_service_days_enabled,

        -- json
        {{ st_id_list("payload -> '$.businessUnits'") }} as business_unit_ids,
        {{ st_text_list("payload -> '$.cities'") }} as cities,
        {{ st_text_list("payload -> '$.locnNumbers'") }} as locn_numbers,
        {{ st_text_list("payload -> '$.serviceDays'") }} as service_days,
        {{ st_id_list("payload -> '$.technicians'") }} as technician_ids,
        {{ st_text_list("payload -> '$.territoryNumbers'") }} as territory_numbers,
        {{ st_text_list("payload -> '$.zips'") }} as zips,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
