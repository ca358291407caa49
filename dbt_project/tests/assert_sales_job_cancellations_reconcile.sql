{#
    Reconciliation: rpt_job_cancellations counts, per tenant and business unit, every active
    completed and every active canceled job of fct_jobs once, and rpt_job_cancel_reasons
    splits each month's and business unit's canceled jobs by reason without losing one; each
    row's closed jobs and cancel rate follow from its counts.
    Returns what disagrees.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_job_cancellations'}}}) }}

with

expected as (

    select
        tenant_id,
        business_unit_id,
        count(*) filter (where is_completed) as completed_jobs,
        count(*) filter (where is_canceled) as canceled_jobs
    from {{ ref('fct_jobs') }}
    where is_completed or is_canceled
    group by 1, 2

),

reported as (

    select
        tenant_id,
        business_unit_id,
        sum(completed_jobs) as completed_jobs,
        sum(canceled_jobs) as canceled_jobs,
        count(*) filter (
            where closed_jobs <> completed_jobs + canceled_jobs
            or cancel_rate is distinct from round(canceled_jobs / closed_jobs, 4)
        ) as inconsistent_rows
    from {{ ref('rpt_job_cancellations') }}
    group by 1, 2

),

by_reason as (

    select
        tenant_id,
        canceled_month,
        business_unit_id,
        sum(canceled_jobs) as canceled_jobs
    from {{ ref('rpt_job_cancel_reasons') }}
    group by 1, 2, 3

),

monthly as (

    select
        tenant_id,
        outcome_month,
        business_unit_id,
        canceled_jobs
    from {{ ref('rpt_job_cancellations') }}
    where canceled_jobs > 0

)

select
    'rpt_job_cancellations' as report,
    coalesce(reported.tenant_id, expected.tenant_id) as tenant_id,
    coalesce(reported.business_unit_id, expected.business_unit_id) as business_unit_id,
    null as month_start,
    expected.completed_jobs as expected_completed_jobs,
    reported.completed_jobs as reported_completed_jobs,
    expected.canceled_jobs as expected_canceled_jobs,
    reported.canceled_jobs as reported_canceled_jobs,
    reported.inconsistent_rows
from reported
full outer join expected
    on reported.tenant_id = expected.tenant_id
    and reported.business_unit_id is not distinct from expected.business_unit_id
where reported.completed_jobs is distinct from expected.completed_jobs
    or reported.canceled_jobs is distinct from expected.canceled_jobs
    or reported.inconsistent_rows > 0

union all

select
    'rpt_job_cancel_reasons' as report,
    coalesce(by_reason.tenant_id, monthly.tenant_id) as tenant_id,
    coalesce(by_reason.business_unit_id, monthly.business_unit_id) as business_unit_id,
    coalesce(by_reason.canceled_month, monthly.outcome_month) as month_start,
    null as expected_completed_jobs,
    null as reported_completed_jobs,
    monthly.canceled_jobs as expected_canceled_jobs,
    by_reason.canceled_jobs as reported_canceled_jobs,
    null as inconsistent_rows
from by_reason
full outer join monthly
    on by_reason.tenant_id = monthly.tenant_id
    and by_reason.canceled_month is not distinct from monthly.outcome_month
    and by_reason.business_unit_id is not distinct from monthly.business_unit_id
where by_reason.canceled_jobs is distinct from monthly.canceled_jobs
