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
        payload ->> '$.code' as timesheet_code,
        payload ->> '$.description' as timesheet_code_description,
        payload ->> '$.rateInfo.hourlyRate' as hourly_rate_source,
        payload ->> '$.type' as timesheet_code_type,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_decimal("payload ->> '$.rateInfo.customHourlyRate'") }} as custom_hourly_rate,
        {{ st_decimal("payload ->> '$.rateInfo.rateMultiplier'") }} as rate_multiplier,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
