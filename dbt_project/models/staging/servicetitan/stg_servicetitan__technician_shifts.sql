with

source as (

    select * from {{ source('servicetitan', 'technician_shifts') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as technician_shift_id,
        {{ st_id("payload ->> '$.technicianId'") }} as technician_id,
        {{ st_id("payload ->> '$.timesheetCodeId'") }} as timesheet_code_id,

        -- attributes
        payload ->> '$.note' as note,
        payload ->> '$.shiftType' as shift_type,
        payload ->> '$.title' as title,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.end'") }} as ends_at,
        {{ st_timestamp("payload ->> '$.start'") }} as starts_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
