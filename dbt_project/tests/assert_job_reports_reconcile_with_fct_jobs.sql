{#
    Reconciliation: technician performance and the daily KPIs account for every completed job
    (with a completion date) and all of its revenue, and the job funnel for every active job.
    Returns the reports that disagree with fct_jobs.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_technician_performance'}}}) }}

with

expected as (

    select
        tenant_id,
        count(*) filter (where is_completed and completed_date is not null) as completed_jobs,
        coalesce(sum(revenue) filter (where is_completed and completed_date is not null), 0)
            as completed_revenue,
        count(*) filter (where is_active) as active_jobs
    from {{ ref('fct_jobs') }}
    group by 1

),

reported as (

    select
        'rpt_technician_performance' as report,
        tenant_id,
        sum(completed_jobs) as completed_jobs,
        sum(revenue) as completed_revenue,
        null as active_jobs
    from {{ ref('rpt_technician_performance') }}
    where completed_month is not null
    group by 1, 2

    union all

    select
        'rpt_daily_kpis' as report,
        tenant_id,
        sum(jobs_completed) as completed_jobs,
        sum(completed_job_revenue) as completed_revenue,
        null as active_jobs
    from {{ ref('rpt_daily_kpis') }}
    group by 1, 2

    union all

    select
        'rpt_job_funnel' as report,
        tenant_id,
        null as completed_jobs,
        null as completed_revenue,
        sum(total_jobs) as active_jobs
    from {{ ref('rpt_job_funnel') }}
    group by 1, 2

)

select
    reported.report,
    reported.tenant_id,
    expected.completed_jobs as expected_completed_jobs,
    reported.completed_jobs as reported_completed_jobs,
    expected.completed_revenue as expected_completed_revenue,
    reported.completed_revenue as reported_completed_revenue,
    expected.active_jobs as expected_active_jobs,
    reported.active_jobs as reported_active_jobs
from reported
left join expected
    on reported.tenant_id = expected.tenant_id
-- A tenant with invoices but no jobs has KPI rows and no fct_jobs rows: zero expected. A figure
-- a report does not carry (NULL) compares as unknown, so it is never a mismatch.
where reported.completed_jobs <> coalesce(expected.completed_jobs, 0)
    or reported.completed_revenue <> coalesce(expected.completed_revenue, 0)
    or reported.active_jobs <> coalesce(expected.active_jobs, 0)
