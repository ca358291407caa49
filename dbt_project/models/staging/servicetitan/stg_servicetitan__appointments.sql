with

source as (

    select * from {{ source('servicetitan', 'appointments') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as appointment_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,

        -- attributes
        payload ->> '$.appointmentNumber' as appointment_number,
        payload ->> '$.status' as appointment_status,
        payload ->> '$.specialInstructions' as special_instructions,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isConfirmed'") }} as is_confirmed,
        {{ st_bool("payload ->> '$.unused'") }} as is_unused,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.start'") }} as starts_at,
        {{ st_timestamp("payload ->> '$.end'") }} as ends_at,
        {{ st_timestamp("payload ->> '$.arrivalWindowStart'") }} as arrival_window_starts_at,
        {{ st_timestamp("payload ->> '$.arrivalWindowEnd'") }} as arrival_window_ends_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
