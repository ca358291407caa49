{#
    One row per job timesheet (a technician's visit to an appointment): dispatched, arrived,
    done or canceled, the job's business unit, and the time on the job (arrived -> done) that
    the technician scorecard's hours worked add up.
#}

with

timesheets as (

    select * from {{ ref('stg_servicetitan__job_timesheets') }}

),

jobs as (

    select * from {{ ref('fct_jobs') }}

),

final as (

    select
        timesheets.tenant_id,
        timesheets.job_timesheet_id,
        timesheets.job_id,
        timesheets.appointment_id,
        timesheets.technician_id,
        jobs.business_unit_id,
        jobs.business_unit_name,
        timesheets.is_active,
        timesheets.dispatched_at,
        timesheets.arrived_at,
        timesheets.done_at,
        timesheets.canceled_at,
        -- the day (UTC) the technician arrived: the day the work was done
        {{ st_utc_date('timesheets.arrived_at') }} as work_date,
        cast(
            date_trunc('month', {{ st_utc_date('timesheets.arrived_at') }}) as date
        ) as work_month,
        -- driving: dispatched -> arrived, in microseconds (exact: the times carry fractions
        -- of a second)
        case
            when timesheets.arrived_at >= timesheets.dispatched_at
                then date_diff('microsecond', timesheets.dispatched_at, timesheets.arrived_at)
        end as travel_microseconds,
        -- on the job: arrived -> done; NULL while the visit is under way, and for a visit
        -- whose times are out of order (never negative hours)
        case
            when timesheets.done_at >= timesheets.arrived_at
                then date_diff('microsecond', timesheets.arrived_at, timesheets.done_at)
        end as worked_microseconds,
        case
            when timesheets.done_at >= timesheets.arrived_at
                then {{ hours_from_microseconds(
                    "date_diff('microsecond', timesheets.arrived_at, timesheets.done_at)"
                ) }}
        end as hours_on_job,
        -- what the scorecard counts: an active visit the technician arrived at and finished
        coalesce(
            timesheets.is_active and timesheets.done_at >= timesheets.arrived_at, false
        ) as is_counted_as_worked,
        timesheets.created_at,
        timesheets.modified_at,
        timesheets.loaded_at
    from timesheets
    {{ join_within_tenant('timesheets', 'jobs', 'job_id') }}

)

{{ select_with_connection_name('final') }}
