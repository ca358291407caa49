with

source as (

    select * from {{ source('servicetitan', 'gross_pay_items') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as gross_pay_item_id,
        {{ st_id("payload ->> '$.activityCodeId'") }} as activity_code_id,
        {{ st_id("payload ->> '$.budgetCodeId'") }} as budget_code_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.employeeId'") }} as employee_id,
        {{ st_id("payload ->> '$.invoiceId'") }} as invoice_id,
        {{ st_id("payload ->> '$.invoiceItemId'") }} as invoice_item_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.laborTypeId'") }} as labor_type_id,
        {{ st_id("payload ->> '$.locationId'") }} as location_id,
        {{ st_id("payload ->> '$.payrollId'") }} as payroll_id,
        {{ st_id("payload ->> '$.projectId'") }} as project_id,
        {{ st_id("payload ->> '$.sourceEntityId'") }} as source_entity_id,

        -- attributes
        payload ->> '$.activity' as activity,
        payload ->> '$.activityCode' as activity_code,
        payload ->> '$.businessUnitName' as business_unit_name,
        payload ->> '$.customerName' as customer_name,
        payload ->> '$.employeePayrollId' as employee_payroll_id,
        payload ->> '$.employeeType' as employee_type,
        payload ->> '$.grossPayItemType' as gross_pay_item_type,
        payload ->> '$.invoiceNumber' as invoice_number,
        payload ->> '$.jobNumber' as job_number,
        payload ->> '$.jobTypeName' as job_type_name,
        payload ->> '$.laborTypeCode' as labor_type_code,
        payload ->> '$.locationAddress' as location_address,
        payload ->> '$.locationName' as location_name,
        payload ->> '$.locationZip' as location_zip,
        payload ->> '$.memo' as memo,
        payload ->> '$.paidTimeType' as paid_time_type,
        payload ->> '$.payoutBusinessUnitName' as payout_business_unit_name,
        payload ->> '$.projectNumber' as project_number,
        payload ->> '$.taxZoneName' as tax_zone_name,
        payload ->> '$.zoneName' as zone_name,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_money("payload ->> '$.amount'") }} as amount,
        {{ st_money("payload ->> '$.amountAdjustment'") }} as amount_adjustment,
        {{ st_decimal("payload ->> '$.paidDurationHours'") }} as paid_duration_hours,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isPrevailingWageJob'") }} as is_prevailing_wage_job,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.date'") }} as worked_at,
        {{ st_timestamp("payload ->> '$.endedOn'") }} as ended_at,
        {{ st_timestamp("payload ->> '$.startedOn'") }} as started_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
