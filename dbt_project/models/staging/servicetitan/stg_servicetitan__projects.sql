with

source as (

    select * from {{ source('servicetitan', 'projects') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as project_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.locationId'") }} as location_id,
        {{ st_id("payload ->> '$.projectTypeId'") }} as project_type_id,
        {{ st_id("payload ->> '$.statusId'") }} as status_id,
        {{ st_id("payload ->> '$.subStatusId'") }} as sub_status_id,

        -- attributes
        payload ->> '$.name' as project_name,
        payload ->> '$.number' as project_number,
        payload ->> '$.status' as project_status,
        payload ->> '$.subStatus' as sub_status,
        payload ->> '$.summary' as project_summary,

        -- flags
        active as is_active,

        -- json
        {{ st_id_list("payload -> '$.businessUnitIds'") }} as business_unit_ids,
        payload -> '$.customFields' as custom_fields,
        payload -> '$.externalData' as external_data,
        {{ st_id_list("payload -> '$.jobIds'") }} as job_ids,
        {{ st_id_list("payload -> '$.projectManagerIds'") }} as project_manager_ids,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.actualCompletionDate'") }} as actual_completion_at,
        {{ st_timestamp("payload ->> '$.startDate'") }} as start_at,
        {{ st_timestamp("payload ->> '$.targetCompletionDate'") }} as target_completion_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
