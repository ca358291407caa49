{#
    The group's monthly report: one row per tenant (company) and calendar month (UTC), and one
    row per month for all companies together (`is_group_total`, `tenant_id` NULL,
    `connection_name` 'All companies'). Definitions:

    * revenue / invoice_count: as rpt_revenue_by_month_business_unit (a tenant's row is the sum
      of that report's rows of its month): pre-tax revenue (total - sales tax) of active
      invoices in the month of their invoice date, adjustments included on their own date;
      invoice_count = active, non-adjustment, non-$0 invoices.
    * completed_jobs / completed_job_revenue / average_ticket: as rpt_daily_kpis: active jobs
      with status Completed, in the month of their completion date; average ticket = their
      revenue / their count, exact to the cent. The group row divides the group's revenue by
      the group's jobs (not an average of the companies' averages).
    * payment_count / payments_collected: active payments in the month of their payment date,
      refunds netted.
    * ar_balance: accounts receivable at `ar_as_of_date`, the month's last day (for the month of
      the tenant's AR as-of date and later months, that as-of date: rpt_ar_aging's, the day the
      balances were read; no later balance is known). Computed from today's balances: active
      invoices dated on or before that day, each at its current `balance` plus the payments
      (active) applied to it after that day. At the as-of date this is rpt_ar_aging's total
      open balance, less the invoices dated after the as-of date, plus the payments applied
      after it (the singular test reconciles exactly that). Credits and write-offs applied to
      an invoice later are not payments: they are not added back. Voided (inactive) invoices
      count in no month, as ServiceTitan no longer lists them as owed.

    Every tenant has a row for every month from its first month with any of these activities to
    the group's last month (months without activity show zeros; AR carries over), so the group
    row of a month is the sum of its tenants' rows.
#}

with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

jobs as (

    select * from {{ ref('fct_jobs') }}

),

payments as (

    select * from {{ ref('fct_payments') }}

),

applications as (

    select * from {{ ref('fct_payment_applications') }}

),

as_of as (

    {{ ar_as_of_dates('invoices') }}

),

invoiced as (

    select
        tenant_id,
        cast(date_trunc('month', revenue_date) as date) as report_month,
        {{ invoice_count() }} as invoice_count,
        cast(sum(revenue) as decimal(18, 2)) as revenue
    from invoices
    where is_revenue and revenue_date is not null
    group by tenant_id, report_month

),

completed as (

    select
        tenant_id,
        cast(date_trunc('month', completed_date) as date) as report_month,
        count(*) as completed_jobs,
        cast(sum(revenue) as decimal(18, 2)) as completed_job_revenue
    from jobs
    where is_completed and completed_date is not null
    group by tenant_id, report_month

),

collected as (

    select
        tenant_id,
        cast(date_trunc('month', payment_date) as date) as report_month,
        count(*) as payment_count,
        cast(sum(total) as decimal(18, 2)) as payments_collected
    from payments
    where is_active and payment_date is not null
    group by tenant_id, report_month

),

activity_months as (

    select
        tenant_id,
        report_month
    from invoiced
    union all
    select
        tenant_id,
        report_month
    from completed
    union all
    select
        tenant_id,
        report_month
    from collected
    union all
    -- the month of the AR as-of date, so that the receivables read that day have a row
    select
        tenant_id,
        cast(date_trunc('month', as_of_date) as date) as report_month
    from as_of

),

tenant_first_months as (

    select
        tenant_id,
        min(report_month) as first_month
    from activity_months
    group by tenant_id

),

group_range as (

    select max(report_month) as last_month
    from activity_months

),

month_spine as (

    -- every tenant from its first month to the group's last one
    select
        tenant_first_months.tenant_id,
        cast(unnest(range(
            cast(tenant_first_months.first_month as timestamp),
            cast(group_range.last_month as timestamp) + interval 1 month,
            interval 1 month
        )) as date) as report_month
    from tenant_first_months
    cross join group_range

),

ar_dates as (

    select
        month_spine.tenant_id,
        month_spine.report_month,
        least(
            cast(month_spine.report_month + interval 1 month - interval 1 day as date),
            as_of.as_of_date
        ) as ar_as_of_date
    from month_spine
    left join as_of
        on month_spine.tenant_id = as_of.tenant_id

),

open_invoices as (

    select
        tenant_id,
        invoice_id,
        revenue_date,
        balance
    from invoices
    where is_active and revenue_date is not null

),

later_payments as (

    -- what active payments applied to an open invoice, and the day they were applied
    select
        applications.tenant_id,
        applications.invoice_id,
        coalesce({{ st_utc_date('applications.applied_at') }}, applications.payment_date)
            as applied_date,
        applications.applied_amount
    from applications
    where applications.is_payment_active

),

ar_balances as (

    select
        ar_dates.tenant_id,
        ar_dates.report_month,
        {{ money_total('open_invoices.balance') }} as open_balance
    from ar_dates
    inner join open_invoices
        on ar_dates.tenant_id = open_invoices.tenant_id
        and ar_dates.ar_as_of_date >= open_invoices.revenue_date
    group by ar_dates.tenant_id, ar_dates.report_month

),

ar_paid_later as (

    select
        ar_dates.tenant_id,
        ar_dates.report_month,
        {{ money_total('later_payments.applied_amount') }} as paid_later
    from ar_dates
    inner join open_invoices
        on ar_dates.tenant_id = open_invoices.tenant_id
        and ar_dates.ar_as_of_date >= open_invoices.revenue_date
    inner join later_payments
        on open_invoices.tenant_id = later_payments.tenant_id
        and open_invoices.invoice_id = later_payments.invoice_id
        and ar_dates.ar_as_of_date < later_payments.applied_date
    group by ar_dates.tenant_id, ar_dates.report_month

),

tenant_months as (

    select
        ar_dates.tenant_id,
        ar_dates.report_month,
        coalesce(invoiced.invoice_count, 0) as invoice_count,
        coalesce(invoiced.revenue, 0) as revenue,
        coalesce(completed.completed_jobs, 0) as completed_jobs,
        coalesce(completed.completed_job_revenue, 0) as completed_job_revenue,
        {{ money_divide('completed.completed_job_revenue', 'completed.completed_jobs') }}
            as average_ticket,
        coalesce(collected.payment_count, 0) as payment_count,
        coalesce(collected.payments_collected, 0) as payments_collected,
        ar_dates.ar_as_of_date,
        cast(
            coalesce(ar_balances.open_balance, 0) + coalesce(ar_paid_later.paid_later, 0)
            as decimal(18, 2)
        ) as ar_balance
    from ar_dates
    {{ join_within_tenant('ar_dates', 'invoiced', 'report_month') }}
    {{ join_within_tenant('ar_dates', 'completed', 'report_month') }}
    {{ join_within_tenant('ar_dates', 'collected', 'report_month') }}
    {{ join_within_tenant('ar_dates', 'ar_balances', 'report_month') }}
    {{ join_within_tenant('ar_dates', 'ar_paid_later', 'report_month') }}

),

tenant_rows as (

    {{ select_with_connection_name('tenant_months') }}

),

group_rows as (

    select
        report_month,
        cast(sum(invoice_count) as bigint) as invoice_count,
        {{ money_total('revenue') }} as revenue,
        cast(sum(completed_jobs) as bigint) as completed_jobs,
        {{ money_total('completed_job_revenue') }} as completed_job_revenue,
        cast(sum(payment_count) as bigint) as payment_count,
        {{ money_total('payments_collected') }} as payments_collected,
        -- the companies' AR dates differ when their data was read on different days
        max(ar_as_of_date) as ar_as_of_date,
        {{ money_total('ar_balance') }} as ar_balance
    from tenant_months
    group by report_month

),

final as (

    select
        tenant_rows.tenant_id,
        tenant_rows.connection_name,
        false as is_group_total,
        tenant_rows.report_month,
        tenant_rows.invoice_count,
        tenant_rows.revenue,
        tenant_rows.completed_jobs,
        tenant_rows.completed_job_revenue,
        tenant_rows.average_ticket,
        tenant_rows.payment_count,
        tenant_rows.payments_collected,
        tenant_rows.ar_as_of_date,
        tenant_rows.ar_balance
    from tenant_rows

    union all

    select
        cast(null as bigint) as tenant_id,
        'All companies' as connection_name,
        true as is_group_total,
        group_rows.report_month,
        group_rows.invoice_count,
        group_rows.revenue,
        group_rows.completed_jobs,
        group_rows.completed_job_revenue,
        {{ money_divide('group_rows.completed_job_revenue', 'group_rows.completed_jobs') }}
            as average_ticket,
        group_rows.payment_count,
        group_rows.payments_collected,
        group_rows.ar_as_of_date,
        group_rows.ar_balance
    from group_rows

)

select * from final
