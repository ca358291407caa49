{#
    Revenue by calendar month (UTC, of the invoice date) and business unit.
    Counts active invoices only (inactive = voided/deleted in ServiceTitan) and includes
    adjustment invoices on their own invoice date, with the job's / original invoice's business
    unit when they carry none (rules in int_invoices__enriched).
#}

with

invoices as (

    select * from {{ ref('fct_invoices') }}
    where is_revenue

),

business_units as (

    select * from {{ ref('dim_business_units') }}

),

monthly as (

    select
        tenant_id,
        cast(date_trunc('month', revenue_date) as date) as revenue_month,
        attributed_business_unit_id as business_unit_id,
        -- the name ServiceTitan printed on the invoice, if the business unit is not loaded
        any_value(business_unit_name) as invoice_business_unit_name,
        {{ invoice_count() }} as invoice_count,
        count(*) filter (where is_adjustment) as adjustment_count,
        cast(sum(revenue) as decimal(18, 2)) as revenue,
        {{ money_total('revenue', 'is_adjustment') }} as adjustment_revenue,
        cast(sum(sales_tax) as decimal(18, 2)) as sales_tax,
        cast(sum(total) as decimal(18, 2)) as total_invoiced
    from invoices
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
        monthly.invoice_count,
        monthly.adjustment_count,
        monthly.revenue,
        monthly.adjustment_revenue,
        monthly.sales_tax,
        monthly.total_invoiced
    from monthly
    {{ join_within_tenant('monthly', 'business_units', 'business_unit_id') }}

)

{{ select_with_connection_name('final') }}
