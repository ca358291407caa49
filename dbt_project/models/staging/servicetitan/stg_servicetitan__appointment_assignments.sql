with

source as (

    select * from {{ source('servicetitan', 'appointment_assignments') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as appointment_assignment_id,
        {{ st_id("payload ->> '$.appointmentId'") }} as appointment_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.technicianId'") }} as technician_id,
        {{ st_id("payload ->> '$.assignedById'") }} as assigned_by_id,

        -- attributes
        payload ->> '$.technicianName' as technician_name,
        payload ->> '$.status' as assignment_status,

        -- flags (an unassigned technician's assignment stays, inactive)
        active as is_active,
        {{ st_bool("payload ->> '$.isPaused'") }} as is_paused,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.assignedOn'") }} as assigned_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
