with

source as (

    select * from {{ source('servicetitan', 'payroll_settings') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as employee_id,
        {{ st_id("payload ->> '$.managerId'") }} as manager_id,
        {{ st_id("payload ->> '$.payrollBusinessUnitId'") }} as payroll_business_unit_id,

        -- attributes
        payload ->> '$.employeeType' as employee_type,
        payload ->> '$.externalPayrollId' as external_payroll_id,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_decimal("payload ->> '$.hourlyRate'") }} as hourly_rate,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isIncludedInPayroll'") }} as is_included_in_payroll,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.hireDate'") }} as hired_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
