with

source as (

    select * from {{ source('servicetitan', 'job_canceled_logs') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as job_canceled_log_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.reasonId'") }} as cancel_reason_id,

        -- attributes
        payload ->> '$.memo' as memo,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
