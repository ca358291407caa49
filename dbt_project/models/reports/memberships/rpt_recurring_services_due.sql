{#
    Recurring service events due per month and recurring service type: due, booked,
    completed, dismissed, overdue, still to do. Definitions in _memberships__reports.yml.
#}

with

events as (

    select * from {{ ref('fct_recurring_service_events') }}
    where is_active

),

tenant_as_of as (

    select
        tenant_id,
        max({{ st_utc_date('loaded_at') }}) as as_of_date
    from {{ ref('fct_recurring_service_events') }}
    group by tenant_id

),

classified as (

    select
        events.tenant_id,
        events.due_month,
        events.recurring_service_type_id,
        events.recurring_service_type_name,
        tenant_as_of.as_of_date,
        events.is_job_completed as is_completed,
        not events.is_job_completed and events.is_dismissed as is_dismissed,
        events.has_job
        and not events.is_job_completed
        and not events.is_job_canceled as is_booked_open,
        not events.is_job_completed
        and not events.is_dismissed
        and events.due_date < tenant_as_of.as_of_date as is_overdue
    from events
    inner join tenant_as_of
        on events.tenant_id = tenant_as_of.tenant_id
    where events.due_month is not null

),

final as (

    select
        tenant_id,
        due_month,
        recurring_service_type_id,
        coalesce(max(recurring_service_type_name), 'Unknown type') as recurring_service_type_name,
        max(as_of_date) as as_of_date,
        count(*) as events_due,
        count(*) filter (where is_completed) as events_completed,
        count(*) filter (where is_booked_open) as events_booked_open,
        count(*) filter (where is_dismissed) as events_dismissed,
        count(*) filter (where is_overdue) as events_overdue,
        count(*) filter (
            where not is_completed and not is_dismissed and not is_overdue
        ) as events_to_do,
        {{ ratio('count(*) filter (where is_completed)', 'count(*)') }} as completion_rate
    from classified
    group by tenant_id, due_month, recurring_service_type_id

)

{{ select_with_connection_name('final') }}
