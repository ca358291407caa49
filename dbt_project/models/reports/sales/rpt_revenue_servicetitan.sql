{#
    Revenue as ServiceTitan's dashboard counts it, by month and business unit: income items
    only, completed jobs on their completion date, non-job and adjustment invoices on their
    invoice date. The rules are decided per item in int_invoice_items__servicetitan_revenue;
    this adds them up. How it differs from rpt_revenue_by_month_business_unit is in the yml.
#}

with

items as (

    select * from {{ ref('int_invoice_items__servicetitan_revenue') }}
    where is_revenue

),

business_units as (

    select * from {{ ref('dim_business_units') }}

),

monthly as (

    select
        tenant_id,
        cast(date_trunc('month', revenue_date) as date) as revenue_month,
        business_unit_id,
        -- the name ServiceTitan printed on the invoice, if the business unit is not loaded
        any_value(invoice_business_unit_name) as invoice_business_unit_name,
        {{ money_total('total', "revenue_kind = 'completed_job'") }} as completed_job_revenue,
        {{ money_total('total', "revenue_kind = 'non_job'") }} as non_job_revenue,
        {{ money_total('total', "revenue_kind = 'adjustment'") }} as adjustment_revenue,
        {{ money_total('total', 'is_unmapped') }} as unmapped_revenue,
        {{ money_total('total') }} as total_revenue
    from items
    group by 1, 2, 3

),

final as (

    select
        monthly.tenant_id,
        monthly.revenue_month,
        monthly.business_unit_id,
        coalesce(
            business_units.business_unit_name,
            monthly.invoice_business_unit_name,
            'Unassigned'
        ) as business_unit_name,
        monthly.completed_job_revenue,
        monthly.non_job_revenue,
        monthly.adjustment_revenue,
        monthly.unmapped_revenue,
        monthly.total_revenue
    from monthly
    {{ join_within_tenant('monthly', 'business_units', 'business_unit_id') }}

)

{{ select_with_connection_name('final') }}
