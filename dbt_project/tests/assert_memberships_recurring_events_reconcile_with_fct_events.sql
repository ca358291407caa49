{#
    Reconciliation: rpt_recurring_services_due adds up to fct_recurring_service_events. Per
    tenant, the events due are the active events with a due month, and the completed, dismissed
    and booked-open ones are those events' own flags; per row, completed + dismissed + overdue
    + to do = due (each event is in exactly one of the four). Returns the disagreements.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_recurring_services_due'}}}) }}

with

report as (

    select * from {{ ref('rpt_recurring_services_due') }}

),

expected as (

    select
        tenant_id,
        count(*) as events_due,
        count(*) filter (where is_job_completed) as events_completed,
        count(*) filter (where is_dismissed and not is_job_completed) as events_dismissed,
        count(*) filter (
            where has_job and not is_job_completed and not is_job_canceled
        ) as events_booked_open
    from {{ ref('fct_recurring_service_events') }}
    where is_active and due_month is not null
    group by tenant_id

),

reported as (

    select
        tenant_id,
        sum(events_due) as events_due,
        sum(events_completed) as events_completed,
        sum(events_dismissed) as events_dismissed,
        sum(events_booked_open) as events_booked_open
    from report
    group by tenant_id

),

total_mismatches as (

    select
        'totals per tenant' as check_name,
        coalesce(reported.tenant_id, expected.tenant_id) as tenant_id,
        cast(null as date) as due_month,
        cast(null as bigint) as recurring_service_type_id
    from reported
    full outer join expected
        on reported.tenant_id = expected.tenant_id
    where reported.events_due is distinct from expected.events_due
        or reported.events_completed is distinct from expected.events_completed
        or reported.events_dismissed is distinct from expected.events_dismissed
        or reported.events_booked_open is distinct from expected.events_booked_open

),

partition_mismatches as (

    select
        'completed + dismissed + overdue + to do = due' as check_name,
        tenant_id,
        due_month,
        recurring_service_type_id
    from report
    where events_completed + events_dismissed + events_overdue + events_to_do <> events_due

)

select * from total_mismatches
union all
select * from partition_mismatches
