{#
    Reconciliation: the tenant rows of rpt_group_monthly agree with the reports whose
    definitions they take, per tenant and month, to the cent:

    * invoice_count and revenue = the sums of rpt_revenue_by_month_business_unit's rows;
    * completed jobs, their revenue, payments and payments collected = the sums of
      rpt_daily_kpis' days of the month;
    * the AR of the month of the AR as-of date, taken on that date, = rpt_ar_aging's total open
      balance, less the balances of the invoices dated after the as-of date (the aging counts
      them, the month does not), plus the active payments applied after the as-of date to the
      invoices dated on or before it (today's balances are net of them).

    Returns the (tenant, month, figure) rows that disagree.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_group_monthly'}}}) }}

with

group_report as (

    select * from {{ ref('rpt_group_monthly') }}
    where not is_group_total

),

revenue_report as (

    select
        tenant_id,
        revenue_month as report_month,
        sum(invoice_count) as invoice_count,
        sum(revenue) as revenue
    from {{ ref('rpt_revenue_by_month_business_unit') }}
    group by tenant_id, report_month

),

daily as (

    select
        tenant_id,
        cast(date_trunc('month', kpi_date) as date) as report_month,
        sum(jobs_completed) as completed_jobs,
        sum(completed_job_revenue) as completed_job_revenue,
        sum(payment_count) as payment_count,
        sum(payments_collected) as payments_collected
    from {{ ref('rpt_daily_kpis') }}
    group by tenant_id, report_month

),

aging as (

    select
        tenant_id,
        max(as_of_date) as as_of_date,
        sum(open_balance) as open_balance
    from {{ ref('rpt_ar_aging') }}
    group by tenant_id

),

invoices as (

    select * from {{ ref('fct_invoices') }}

),

as_of as (

    {{ ar_as_of_dates('invoices') }}

),

dated_after as (

    select
        invoices.tenant_id,
        sum(invoices.balance) as balance
    from invoices
    inner join as_of
        on invoices.tenant_id = as_of.tenant_id
    where invoices.is_active
        and (invoices.revenue_date is null or invoices.revenue_date > as_of.as_of_date)
    group by invoices.tenant_id

),

paid_after as (

    select
        invoices.tenant_id,
        sum(applications.applied_amount) as applied_amount
    from invoices
    inner join as_of
        on invoices.tenant_id = as_of.tenant_id
    inner join {{ ref('fct_payment_applications') }} as applications
        on invoices.tenant_id = applications.tenant_id
        and invoices.invoice_id = applications.invoice_id
    where invoices.is_active
        and invoices.revenue_date <= as_of.as_of_date
        and applications.is_payment_active
        and as_of.as_of_date
        < coalesce({{ st_utc_date('applications.applied_at') }}, applications.payment_date)
    group by invoices.tenant_id

),

expected_ar as (

    select
        as_of.tenant_id,
        cast(date_trunc('month', as_of.as_of_date) as date) as report_month,
        as_of.as_of_date,
        coalesce(aging.open_balance, 0)
        - coalesce(dated_after.balance, 0)
        + coalesce(paid_after.applied_amount, 0) as ar_balance
    from as_of
    -- the aging of the same as-of date
    {{ join_within_tenant('as_of', 'aging', 'as_of_date') }}
    left join dated_after
        on as_of.tenant_id = dated_after.tenant_id
    left join paid_after
        on as_of.tenant_id = paid_after.tenant_id

),

checks as (

    select
        'revenue' as figure,
        coalesce(group_report.tenant_id, revenue_report.tenant_id) as tenant_id,
        coalesce(group_report.report_month, revenue_report.report_month) as report_month,
        cast(group_report.revenue as varchar) as reported,
        cast(revenue_report.revenue as varchar) as expected
    from group_report
    full outer join revenue_report
        on group_report.tenant_id = revenue_report.tenant_id
        and group_report.report_month = revenue_report.report_month
    where group_report.revenue is distinct from coalesce(revenue_report.revenue, 0)
        or group_report.invoice_count is distinct from coalesce(revenue_report.invoice_count, 0)

    union all

    select
        'jobs and payments' as figure,
        coalesce(group_report.tenant_id, daily.tenant_id) as tenant_id,
        coalesce(group_report.report_month, daily.report_month) as report_month,
        cast(group_report.completed_job_revenue as varchar) as reported,
        cast(daily.completed_job_revenue as varchar) as expected
    from group_report
    full outer join daily
        on group_report.tenant_id = daily.tenant_id
        and group_report.report_month = daily.report_month
    where group_report.completed_jobs is distinct from coalesce(daily.completed_jobs, 0)
        or group_report.completed_job_revenue
        is distinct from coalesce(daily.completed_job_revenue, 0)
        or group_report.payment_count is distinct from coalesce(daily.payment_count, 0)
        or group_report.payments_collected is distinct from coalesce(daily.payments_collected, 0)

    union all

    select
        'ar at the as-of date' as figure,
        expected_ar.tenant_id,
        expected_ar.report_month,
        cast(group_report.ar_balance as varchar) as reported,
        cast(expected_ar.ar_balance as varchar) as expected
    from expected_ar
    left join group_report
        on expected_ar.tenant_id = group_report.tenant_id
        and expected_ar.report_month = group_report.report_month
    where group_report.ar_balance is distinct from expected_ar.ar_balance
        or group_report.ar_as_of_date is distinct from expected_ar.as_of_date

)

select * from checks
