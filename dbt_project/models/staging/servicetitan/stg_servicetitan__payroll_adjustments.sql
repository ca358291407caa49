with

source as (

    select * from {{ source('servicetitan', 'payroll_adjustments') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as payroll_adjustment_id,
        {{ st_id("payload ->> '$.activityCodeId'") }} as activity_code_id,
        {{ st_id("payload ->> '$.employeeId'") }} as employee_id,
        {{ st_id("payload ->> '$.invoiceId'") }} as invoice_id,

        -- attributes
        payload ->> '$.employeeType' as employee_type,
        payload ->> '$.memo' as memo,
        payload ->> '$.type' as payroll_adjustment_type,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_money("payload ->> '$.amount'") }} as amount,
        {{ st_decimal("payload ->> '$.hours'") }} as hours,
        {{ st_decimal("payload ->> '$.quantity'") }} as quantity,
        {{ st_decimal("payload ->> '$.rate'") }} as rate,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.postedOn'") }} as posted_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
