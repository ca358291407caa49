{#
    One row per gross pay item (what an employee or technician earned for an activity: timesheet
    time, an invoice-related bonus, salary, a custom bonus, a reimbursement), with the business
    unit and month the labour-cost report counts it in. Which amount counts as labour cost, and
    how the business unit is found, is in _payroll__models.yml.
#}

with

pay_items as (

    select * from {{ ref('stg_servicetitan__gross_pay_items') }}

),

jobs as (

    select * from {{ ref('fct_jobs') }}

),

invoices as (

    select * from {{ ref('fct_invoices') }}

),

technicians as (

    select * from {{ ref('dim_technicians') }}

),

employees as (

    select * from {{ ref('dim_employees') }}

),

-- business units by name, only where the name is unambiguous within the tenant (the item
-- names its business unit by text only)
named_business_units as (

    select
        tenant_id,
        business_unit_name,
        min(business_unit_id) as business_unit_id
    from {{ ref('dim_business_units') }}
    group by tenant_id, business_unit_name
    having count(*) = 1

),

resolved as (

    select
        pay_items.*,
        jobs.business_unit_id as job_business_unit_id,
        invoices.attributed_business_unit_id as invoice_business_unit_id,
        named_business_units.business_unit_id as named_business_unit_id,
        case
            when pay_items.employee_type = 'Technician' then technicians.business_unit_id
            else employees.business_unit_id
        end as employee_business_unit_id
    from pay_items
    {{ join_within_tenant('pay_items', 'jobs', 'job_id') }}
    {{ join_within_tenant('pay_items', 'invoices', 'invoice_id') }}
    {{ join_within_tenant('pay_items', 'named_business_units', 'business_unit_name') }}
    {{ join_within_tenant('pay_items', 'technicians', 'employee_id', 'technician_id') }}
    {{ join_within_tenant('pay_items', 'employees', 'employee_id') }}

),

final as (

    select
        tenant_id,
        gross_pay_item_id,
        employee_id,
        employee_type,
        payroll_id,
        job_id,
        invoice_id,
        invoice_item_id,
        customer_id,
        location_id,
        project_id,
        activity_code_id,
        labor_type_id,
        source_entity_id,
        gross_pay_item_type,
        paid_time_type,
        activity,
        activity_code,
        business_unit_name as item_business_unit_name,
        payout_business_unit_name,
        coalesce(
            job_business_unit_id,
            invoice_business_unit_id,
            named_business_unit_id,
            employee_business_unit_id
        ) as business_unit_id,
        case
            when job_business_unit_id is not null then 'job'
            when invoice_business_unit_id is not null then 'invoice'
            when named_business_unit_id is not null then 'item business unit name'
            when employee_business_unit_id is not null then 'employee'
        end as business_unit_source,
        amount,
        amount_adjustment,
        paid_duration_hours,
        -- labour cost: pay earned for work; a reimbursement repays an expense, it is not pay
        coalesce(is_active, false)
        and coalesce(gross_pay_item_type, '') <> 'Reimbursement' as is_labour_cost,
        case
            when coalesce(is_active, false) and coalesce(gross_pay_item_type, '') <> 'Reimbursement'
                then coalesce(amount, 0)
            else cast(0 as decimal(18, 2))
        end as labour_cost,
        worked_at,
        {{ st_utc_date('worked_at') }} as pay_date,
        cast(date_trunc('month', {{ st_utc_date('worked_at') }}) as date) as pay_month,
        started_at,
        ended_at,
        is_active,
        is_prevailing_wage_job,
        memo,
        created_at,
        modified_at,
        loaded_at
    from resolved

)

{{ select_with_connection_name('final') }}
