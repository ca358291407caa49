{#
    Reconciliation: the scorecard's hours worked are the job timesheets' arrived-to-done time,
    per tenant, month of arrival (UTC) and technician, computed here from the raw
    timesheets (active, both times present and in order); a technician-month with hours in one
    and none in the other is a mismatch too. Returns what disagrees.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_technician_scorecard'}}}) }}

with

raw_timesheets as (

    select
        _tenant_id as tenant_id,
        active as is_active,
        {{ st_id("payload ->> '$.technicianId'") }} as technician_id,
        {{ st_timestamp("payload ->> '$.arrivedOn'") }} as arrived_at,
        {{ st_timestamp("payload ->> '$.doneOn'") }} as done_at
    from {{ source('servicetitan', 'job_timesheets') }}

),

timesheets as (

    select
        tenant_id,
        technician_id,
        cast(date_trunc('month', timezone('UTC', arrived_at)) as date) as scorecard_month,
        date_diff('microsecond', arrived_at, done_at) as worked_microseconds
    from raw_timesheets
    where is_active and technician_id is not null and done_at >= arrived_at

),

expected as (

    select
        tenant_id,
        scorecard_month,
        technician_id,
        {{ hours_from_microseconds('sum(worked_microseconds)') }} as hours_worked
    from timesheets
    group by tenant_id, scorecard_month, technician_id

),

reported as (

    select
        tenant_id,
        scorecard_month,
        technician_id,
        hours_worked
    from {{ ref('rpt_technician_scorecard') }}
    where hours_worked <> 0

)

select
    coalesce(expected.tenant_id, reported.tenant_id) as tenant_id,
    coalesce(expected.scorecard_month, reported.scorecard_month) as scorecard_month,
    coalesce(expected.technician_id, reported.technician_id) as technician_id,
    expected.hours_worked as expected_hours,
    reported.hours_worked as reported_hours
from expected
full outer join reported
    on
    expected.tenant_id = reported.tenant_id
    and expected.scorecard_month = reported.scorecard_month
    and expected.technician_id = reported.technician_id
where expected.hours_worked is distinct from reported.hours_worked
