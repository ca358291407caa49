{#
    One row per scheduled occurrence of a recurring service, with its recurring service's type
    and the job booked for it. An occurrence is *done* when its job was completed (the job's
    status, as int_job_outcomes decides it), whatever its follow-up status says.
#}

with

events as (

    select * from {{ ref('stg_servicetitan__recurring_service_events') }}

),

recurring_services as (

    select * from {{ ref('fct_recurring_services') }}

),

job_outcomes as (

    select * from {{ ref('int_job_outcomes') }}

),

final as (

    select
        -- keys
        events.tenant_id,
        events.recurring_service_event_id,
        events.location_recurring_service_id as recurring_service_id,
        recurring_services.recurring_service_type_id,
        coalesce(events.membership_id, recurring_services.membership_id) as membership_id,
        recurring_services.location_id,
        recurring_services.business_unit_id,
        events.job_id,

        -- attributes
        events.location_recurring_service_name as recurring_service_name,
        recurring_services.recurring_service_type_name,
        events.membership_name,
        events.recurring_service_event_status as follow_up_status,

        -- flags
        events.is_active,
        events.job_id is not null as has_job,
        coalesce(job_outcomes.is_completed, false) as is_job_completed,
        coalesce(job_outcomes.is_canceled, false) as is_job_canceled,
        events.recurring_service_event_status = 'Dismissed' as is_dismissed,

        -- dates (UTC)
        events.scheduled_at,
        {{ st_utc_date('events.scheduled_at') }} as due_date,
        cast(date_trunc('month', {{ st_utc_date('events.scheduled_at') }}) as date) as due_month,
        job_outcomes.completed_date as job_completed_date,
        events.created_at,
        events.modified_at,
        events.loaded_at

    from events
    {{ join_within_tenant(
        'events', 'recurring_services', 'location_recurring_service_id', 'recurring_service_id'
    ) }}
    {{ join_within_tenant('events', 'job_outcomes', 'job_id') }}

)

{{ select_with_connection_name('final') }}
