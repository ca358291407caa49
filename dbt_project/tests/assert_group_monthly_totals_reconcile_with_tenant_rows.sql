{#
    Reconciliation: each month's group-total row of rpt_group_monthly is the sum of that month's
    tenant rows, to the cent (counts, revenue, payments, AR), its average ticket the group's
    completed-job revenue / the group's completed jobs (not an average of the companies'
    averages), and there is exactly one group row for each month that has tenant rows. Returns
    the months that disagree.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_group_monthly'}}}) }}

with

report as (

    select * from {{ ref('rpt_group_monthly') }}

),

tenant_sums as (

    select
        report_month,
        sum(invoice_count) as invoice_count,
        sum(revenue) as revenue,
        sum(completed_jobs) as completed_jobs,
        sum(completed_job_revenue) as completed_job_revenue,
        {{ money_divide('sum(completed_job_revenue)', 'sum(completed_jobs)') }} as average_ticket,
        sum(payment_count) as payment_count,
        sum(payments_collected) as payments_collected,
        sum(ar_balance) as ar_balance
    from report
    where not is_group_total
    group by report_month

),

group_rows as (

    select
        report_month,
        count(*) as group_row_count,
        sum(invoice_count) as invoice_count,
        sum(revenue) as revenue,
        sum(completed_jobs) as completed_jobs,
        sum(completed_job_revenue) as completed_job_revenue,
        max(average_ticket) as average_ticket,
        sum(payment_count) as payment_count,
        sum(payments_collected) as payments_collected,
        sum(ar_balance) as ar_balance
    from report
    where is_group_total
    group by report_month

)

select
    coalesce(group_rows.report_month, tenant_sums.report_month) as report_month,
    group_rows.group_row_count,
    tenant_sums.revenue as tenant_revenue,
    group_rows.revenue as group_revenue,
    tenant_sums.average_ticket as expected_average_ticket,
    group_rows.average_ticket as group_average_ticket,
    tenant_sums.ar_balance as tenant_ar_balance,
    group_rows.ar_balance as group_ar_balance
from group_rows
full outer join tenant_sums
    on group_rows.report_month = tenant_sums.report_month
where group_rows.group_row_count is distinct from 1
    or group_rows.invoice_count is distinct from tenant_sums.invoice_count
    or group_rows.revenue is distinct from tenant_sums.revenue
    or group_rows.completed_jobs is distinct from tenant_sums.completed_jobs
    or group_rows.completed_job_revenue is distinct from tenant_sums.completed_job_revenue
    or group_rows.average_ticket is distinct from tenant_sums.average_ticket
    or group_rows.payment_count is distinct from tenant_sums.payment_count
    or group_rows.payments_collected is distinct from tenant_sums.payments_collected
    or group_rows.ar_balance is distinct from tenant_sums.ar_balance
