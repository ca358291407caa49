{#
    Daily KPI summary, one row per tenant and UTC calendar day from the first to the last day
    with any activity (days without activity show zeros, so charts have no gaps).

    * jobs_completed / completed_job_revenue / average_ticket: active jobs whose status is
      Completed, on their completion date; average ticket = their revenue / their count (the
      same definition as the technician report).
    * revenue_invoiced (pre-tax) / total_invoiced (with tax): active invoices on their invoice
      date, adjustments included on theirs; inactive (voided) invoices never count.
    * payments_collected: active payments on their payment date, refunds netted.
#}

with

completed_jobs as (

    select
        tenant_id,
        completed_date as kpi_date,
        count(*) as jobs_completed,
        cast(sum(revenue) as decimal(18, 2)) as completed_job_revenue
    from {{ ref('fct_jobs') }}
    where is_completed and completed_date is not null
    group by 1, 2

),

invoiced as (

    select
        tenant_id,
        revenue_date as kpi_date,
        {{ invoice_count() }} as invoices_created,
        cast(sum(revenue) as decimal(18, 2)) as revenue_invoiced,
        cast(sum(total) as decimal(18, 2)) as total_invoiced
    from {{ ref('fct_invoices') }}
    where is_revenue and revenue_date is not null
    group by 1, 2

),

collected as (

    select
        tenant_id,
        payment_date as kpi_date,
        count(*) as payment_count,
        cast(sum(total) as decimal(18, 2)) as payments_collected
    from {{ ref('fct_payments') }}
    where is_active and payment_date is not null
    group by 1, 2

),

activity_days as (

    select
        tenant_id,
        kpi_date
    from completed_jobs
    union all
    select
        tenant_id,
        kpi_date
    from invoiced
    union all
    select
        tenant_id,
        kpi_date
    from collected

),

date_spine as (

    select
        tenant_id,
        cast(unnest(range(
            cast(min(kpi_date) as timestamp),
            cast(max(kpi_date) as timestamp) + interval 1 day,
            interval 1 day
        )) as date) as kpi_date
    from activity_days
    group by 1

),

final as (

    select
        date_spine.tenant_id,
        date_spine.kpi_date,
        coalesce(completed_jobs.jobs_completed, 0) as jobs_completed,
        coalesce(completed_jobs.completed_job_revenue, 0) as completed_job_revenue,
        {{ money_divide('completed_jobs.completed_job_revenue', 'completed_jobs.jobs_completed') }}
            as average_ticket,
        coalesce(invoiced.invoices_created, 0) as invoices_created,
        coalesce(invoiced.revenue_invoiced, 0) as revenue_invoiced,
        coalesce(invoiced.total_invoiced, 0) as total_invoiced,
        coalesce(collected.payment_count, 0) as payment_count,
        coalesce(collected.payments_collected, 0) as payments_collected
    from date_spine
    {{ join_within_tenant('date_spine', 'completed_jobs', 'kpi_date') }}
    {{ join_within_tenant('date_spine', 'invoiced', 'kpi_date') }}
    {{ join_within_tenant('date_spine', 'collected', 'kpi_date') }}

)

{{ select_with_connection_name('final') }}
