with

source as (

    select * from {{ source('servicetitan', 'timesheet_activities') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as timesheet_activity_id,
        {{ st_id("payload ->> '$.activityTypeId'") }} as activity_type_id,
        {{ st_id("payload ->> '$.appointmentId'") }} as appointment_id,
        {{ st_id("payload ->> '$.budgetCodeId'") }} as budget_code_id,
        {{ st_id("payload ->> '$.employeeId'") }} as employee_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.laborTypeId'") }} as labor_type_id,
        {{ st_id("payload ->> '$.modifiedById'") }} as modified_by_id,
        {{ st_id("payload ->> '$.projectId'") }} as project_id,

        -- attributes
        payload ->> '$.employeeType' as employee_type,
        payload ->> '$.memo' as memo,
        payload ->> '$.projectLabel' as project_label,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_decimal("payload ->> '$.endCoordinate.latitude'", 6) }} as end_coordinate_latitude,
        {{ st_decimal("payload ->> '$.endCoordinate.longitude'", 6) }} as end_coordinate_longitude,
        {{ st_decimal("payload ->> '$.startCoordinate.latitude'", 6) }}
            as start_coordinate_latitude,
        {{ st_decimal("payload ->> '$.startCoordinate.longitude'", 6) }}
            as start_coordinate_longitude,

        -- flags
        active as is_active,

        -- json
        {{ st_id_list("payload -> '$.tagTypes'") }} as tag_type_ids,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.endTime'") }} as ended_at,
        {{ st_timestamp("payload ->> '$.startTime'") }} as started_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
