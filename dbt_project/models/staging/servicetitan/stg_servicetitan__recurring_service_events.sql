with

source as (

    select * from {{ source('servicetitan', 'recurring_service_events') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as recurring_service_event_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.locationRecurringServiceId'") }} as location_recurring_service_id,
        {{ st_id("payload ->> '$.membershipId'") }} as membership_id,

        -- attributes
        payload ->> '$.locationRecurringServiceName' as location_recurring_service_name,
        payload ->> '$.membershipName' as membership_name,
        payload ->> '$.status' as recurring_service_event_status,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.date'") }} as scheduled_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
