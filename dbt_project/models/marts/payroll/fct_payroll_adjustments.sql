{#
    One row per payroll adjustment (a manual correction to an employee's pay: a bonus, a
    deduction, an advance, labour on an invoice), with the business unit and month the
    labour-cost report counts it in, and whether it counts as labour cost
    (_payroll__models.yml).
#}

with

adjustments as (

    select * from {{ ref('stg_servicetitan__payroll_adjustments') }}

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

resolved as (

    select
        adjustments.*,
        invoices.attributed_business_unit_id as invoice_business_unit_id,
        case
            when adjustments.employee_type = 'Technician' then technicians.business_unit_id
            else employees.business_unit_id
        end as employee_business_unit_id
    from adjustments
    {{ join_within_tenant('adjustments', 'invoices', 'invoice_id') }}
    {{ join_within_tenant('adjustments', 'technicians', 'employee_id', 'technician_id') }}
    {{ join_within_tenant('adjustments', 'employees', 'employee_id') }}

),

final as (

    select
        tenant_id,
        payroll_adjustment_id,
        employee_id,
        employee_type,
        invoice_id,
        activity_code_id,
        payroll_adjustment_type,
        coalesce(invoice_business_unit_id, employee_business_unit_id) as business_unit_id,
        case
            when invoice_business_unit_id is not null then 'invoice'
            when employee_business_unit_id is not null then 'employee'
        end as business_unit_source,
        amount,
        hours,
        quantity,
        rate,
        -- earned pay counts; an advance (sold or not) is pay handed out early and taken back
        -- from gross pay later, and a commission-base adjustment is a base the commission rate
        -- applies to, not pay: counting either would double-count or overstate labour cost
        coalesce(is_active, false) and coalesce(payroll_adjustment_type, 'Direct')
        not in ('Advance', 'SoldAdvance', 'CommissionBased') as is_labour_cost,
        case
            when
                coalesce(is_active, false) and coalesce(payroll_adjustment_type, 'Direct')
                not in ('Advance', 'SoldAdvance', 'CommissionBased')
                then coalesce(amount, 0)
            else cast(0 as decimal(18, 2))
        end as labour_cost,
        posted_at,
        {{ st_utc_date('posted_at') }} as posted_date,
        cast(date_trunc('month', {{ st_utc_date('posted_at') }}) as date) as posted_month,
        is_active,
        memo,
        created_at,
        modified_at,
        loaded_at
    from resolved

)

{{ select_with_connection_name('final') }}
