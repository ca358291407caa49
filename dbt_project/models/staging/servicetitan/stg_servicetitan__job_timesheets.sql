with

source as (

    select * from {{ source('servicetitan', 'job_timesheets') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as job_timesheet_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.appointmentId'") }} as appointment_id,
        {{ st_id("payload ->> '$.technicianId'") }} as technician_id,

        -- flags
        active as is_active,

        -- timestamps (UTC): the technician's time on the appointment, dispatched -> arrived
        -- -> done (or canceled)
        {{ st_timestamp("payload ->> '$.dispatchedOn'") }} as dispatched_at,
        {{ st_timestamp("payload ->> '$.arrivedOn'") }} as arrived_at,
        {{ st_timestamp("payload ->> '$.doneOn'") }} as done_at,
        {{ st_timestamp("payload ->> '$.canceledOn'") }} as canceled_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
