{#
    Reconciliation: the scorecard's split revenue, summed over all technicians, is exactly the
    revenue (fct_jobs.revenue, the invoice subtotal) of the completed jobs credited to anyone
    (an active job split, else a sold-by technician), per tenant and month of completion; and
    every job's split credits (fct_job_splits) add up exactly to its revenue. The credited jobs
    are found from the raw splits, not from the models under test (and not from
    staging, so that building the staging layer alone does not select this test). Returns what disagrees.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_technician_scorecard'}}}) }}

with

jobs as (

    select * from {{ ref('fct_jobs') }}

),

jobs_with_splits as (

    select distinct
        _tenant_id as tenant_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id
    from {{ source('servicetitan', 'job_splits') }}
    where active and (payload ->> '$.technicianId') is not null

),

credited_jobs as (

    select
        jobs.tenant_id,
        cast(date_trunc('month', jobs.completed_date) as date) as scorecard_month,
        jobs.revenue
    from jobs
    {{ join_within_tenant('jobs', 'jobs_with_splits', 'job_id') }}
    where
        jobs.is_completed
        and jobs.completed_date is not null
        and (jobs_with_splits.job_id is not null or jobs.sold_by_technician_id is not null)

),

expected as (

    select
        tenant_id,
        scorecard_month,
        cast(sum(revenue) as decimal(18, 2)) as split_revenue
    from credited_jobs
    group by tenant_id, scorecard_month

),

reported as (

    select
        tenant_id,
        scorecard_month,
        cast(sum(split_revenue) as decimal(18, 2)) as split_revenue
    from {{ ref('rpt_technician_scorecard') }}
    group by tenant_id, scorecard_month

),

month_mismatches as (

    select
        'scorecard month' as check_name,
        coalesce(expected.tenant_id, reported.tenant_id) as tenant_id,
        cast(coalesce(expected.scorecard_month, reported.scorecard_month) as varchar) as item,
        expected.split_revenue as expected_amount,
        reported.split_revenue as reported_amount
    from expected
    full outer join reported
        on
        expected.tenant_id = reported.tenant_id
        and expected.scorecard_month = reported.scorecard_month
    where coalesce(expected.split_revenue, 0) <> coalesce(reported.split_revenue, 0)

),

split_totals as (

    select
        tenant_id,
        job_id,
        cast(sum(credited_subtotal) as decimal(18, 2)) as credited_subtotal
    from {{ ref('fct_job_splits') }}
    group by tenant_id, job_id

),

job_mismatches as (

    select
        'job splits' as check_name,
        split_totals.tenant_id,
        cast(split_totals.job_id as varchar) as item,
        coalesce(jobs.revenue, 0) as expected_amount,
        split_totals.credited_subtotal as reported_amount
    from split_totals
    {{ join_within_tenant('split_totals', 'jobs', 'job_id') }}
    where split_totals.credited_subtotal <> coalesce(jobs.revenue, 0)

)

select * from month_mismatches
union all
select * from job_mismatches
