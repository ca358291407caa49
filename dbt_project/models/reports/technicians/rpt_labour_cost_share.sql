{#
    Labour cost as a share of revenue, by month (UTC) and business unit: gross pay items and
    the payroll adjustments that are pay, over the month's invoice-date revenue. Definitions
    and why this revenue is the one used: _technicians__reports.yml.
#}

with

pay_items as (

    select * from {{ ref('fct_gross_pay_items') }}
    where is_labour_cost

),

adjustments as (

    select * from {{ ref('fct_payroll_adjustments') }}
    where is_labour_cost

),

revenue as (

    select * from {{ ref('rpt_revenue_by_month_business_unit') }}

),

business_units as (

    select * from {{ ref('dim_business_units') }}

),

pay_by_month as (

    select
        tenant_id,
        pay_month as report_month,
        business_unit_id,
        count(*) as gross_pay_item_count,
        {{ money_total('labour_cost') }} as gross_pay,
        {{ money_total('labour_cost', "gross_pay_item_type = 'TimesheetTime'") }}
            as timesheet_pay,
        cast(coalesce(sum(paid_duration_hours), 0) as decimal(18, 4)) as paid_hours
    from pay_items
    where pay_month is not null
    group by tenant_id, pay_month, business_unit_id

),

adjustments_by_month as (

    select
        tenant_id,
        posted_month as report_month,
        business_unit_id,
        count(*) as payroll_adjustment_count,
        {{ money_total('labour_cost') }} as payroll_adjustments
    from adjustments
    where posted_month is not null
    group by tenant_id, posted_month, business_unit_id

),

revenue_by_month as (

    select
        tenant_id,
        revenue_month as report_month,
        business_unit_id,
        revenue
    from revenue

),

report_keys as (

    select
        tenant_id,
        report_month,
        business_unit_id
    from pay_by_month
    union
    select
        tenant_id,
        report_month,
        business_unit_id
    from adjustments_by_month
    union
    select
        tenant_id,
        report_month,
        business_unit_id
    from revenue_by_month

),

combined as (

    select
        report_keys.tenant_id,
        report_keys.report_month,
        report_keys.business_unit_id,
        coalesce(pay_by_month.gross_pay_item_count, 0) as gross_pay_item_count,
        coalesce(pay_by_month.gross_pay, 0) as gross_pay,
        coalesce(pay_by_month.timesheet_pay, 0) as timesheet_pay,
        coalesce(pay_by_month.paid_hours, 0) as paid_hours,
        coalesce(adjustments_by_month.payroll_adjustment_count, 0) as payroll_adjustment_count,
        coalesce(adjustments_by_month.payroll_adjustments, 0) as payroll_adjustments,
        coalesce(revenue_by_month.revenue, 0) as revenue
    from report_keys
    -- business_unit_id may be NULL (pay or revenue with no business unit): NULLs match here
    left join pay_by_month
        on
        report_keys.tenant_id = pay_by_month.tenant_id
        and report_keys.report_month = pay_by_month.report_month
        and report_keys.business_unit_id is not distinct from pay_by_month.business_unit_id
    left join adjustments_by_month
        on
        report_keys.tenant_id = adjustments_by_month.tenant_id
        and report_keys.report_month = adjustments_by_month.report_month
        and report_keys.business_unit_id
        is not distinct from adjustments_by_month.business_unit_id
    left join revenue_by_month
        on
        report_keys.tenant_id = revenue_by_month.tenant_id
        and report_keys.report_month = revenue_by_month.report_month
        and report_keys.business_unit_id
        is not distinct from revenue_by_month.business_unit_id

),

final as (

    select
        combined.tenant_id,
        combined.report_month,
        combined.business_unit_id,
        coalesce(business_units.business_unit_name, 'Unassigned') as business_unit_name,
        combined.gross_pay_item_count,
        cast(combined.gross_pay as decimal(18, 2)) as gross_pay,
        cast(combined.timesheet_pay as decimal(18, 2)) as timesheet_pay,
        combined.paid_hours,
        combined.payroll_adjustment_count,
        cast(combined.payroll_adjustments as decimal(18, 2)) as payroll_adjustments,
        cast(combined.gross_pay + combined.payroll_adjustments as decimal(18, 2)) as labour_cost,
        cast(combined.revenue as decimal(18, 2)) as revenue,
        -- a share of money: exact DECIMALs divided once, as DOUBLE rounded to 4 places (the
        -- ratio macro's convention); NULL when the month's revenue is 0 or negative
        case
            when combined.revenue > 0
                then round(
                        cast(combined.gross_pay + combined.payroll_adjustments as double)
                        / cast(combined.revenue as double),
                        4
                    )
        end as labour_cost_share
    from combined
    {{ join_within_tenant('combined', 'business_units', 'business_unit_id') }}

)

{{ select_with_connection_name('final') }}
