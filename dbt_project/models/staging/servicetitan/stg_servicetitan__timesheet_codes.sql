with

source as (

    select * from {{ source('servicetitan', 'timesheet_codes') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as timesheet_code_id,

        -- attributes
        payload ->> '$.applicableEmployeeType' as applicable_employee_type,
        payload ->> '$.code' as timesheet_code_code,
        payload ->> '$.description' as timesheet_code_description,
        payload ->> '$.rateInfo.hourlyRate' as rate_info_hourly_rate,
        payload ->> '$.type' as timesheet_code_type,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_decimal("payload ->> '$.rateInfo.customHourlyRate'") }}
            as rate_info_custom_hourly_rate,
        {{ st_decimal("payload ->> '$.rateInfo.rateMultiplier'") }} as rate_info_rate_multiplier,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
