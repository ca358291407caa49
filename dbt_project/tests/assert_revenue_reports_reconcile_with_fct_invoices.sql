{#
    Reconciliation: the revenue reports add up to the invoices they claim to count. Revenue by
    month and business unit, and the daily KPIs' revenue invoiced, must both equal the sum of
    fct_invoices where is_revenue, to the cent, per tenant. Returns the reports that disagree.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_revenue_by_month_business_unit'}}}) }}

with

expected as (

    select
        tenant_id,
        sum(revenue) as revenue,
        sum(total) as total_invoiced
    from {{ ref('fct_invoices') }}
    where is_revenue
    group by 1

),

reported as (

    select
        'rpt_revenue_by_month_business_unit' as report,
        tenant_id,
        sum(revenue) as revenue,
        sum(total_invoiced) as total_invoiced
    from {{ ref('rpt_revenue_by_month_business_unit') }}
    group by 1, 2

    union all

    select
        'rpt_daily_kpis' as report,
        tenant_id,
        sum(revenue_invoiced) as revenue,
        sum(total_invoiced) as total_invoiced
    from {{ ref('rpt_daily_kpis') }}
    group by 1, 2

)

select
    reported.report,
    coalesce(reported.tenant_id, expected.tenant_id) as tenant_id,
    expected.revenue as expected_revenue,
    reported.revenue as reported_revenue,
    expected.total_invoiced as expected_total_invoiced,
    reported.total_invoiced as reported_total_invoiced
from reported
full outer join expected
    on reported.tenant_id = expected.tenant_id
where reported.revenue is distinct from expected.revenue
    or reported.total_invoiced is distinct from expected.total_invoiced
