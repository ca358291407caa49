{#
    One row per job timesheet (a technician's visit to an appointment): dispatched, arrived,
    done or canceled, the job's business unit, and the time on the job (arrived -> done) that
    the technician scorecard's hours worked add up.
#}

{#
    Incremental (docs/incremental.md): each run rebuilds the timesheets loaded since the last
    build, those whose job's business unit changed, and every timesheet of a renamed tenant.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'job_timesheet_id'],
    post_hook=[
        "{{ delete_rows_gone_from(source('servicetitan', 'job_timesheets'), [('job_timesheet_id', 'id')]) }}",
        "{{ record_incremental_watermark() }}",
    ]
) }}
-- depends_on: {{ source('servicetitan', 'job_timesheets') }}

with

{%- if is_incremental() %}

    to_rebuild as (

        select
            tenant_id,
            job_timesheet_id
        from {{ ref('stg_servicetitan__job_timesheets') }}
        where loaded_at > {{ incremental_watermark() }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'job_timesheet_id'],
            ref('fct_jobs'),
            'built.tenant_id = latest.tenant_id and built.job_id = latest.job_id',
            [
                ('business_unit_id', 'latest.business_unit_id'),
                ('business_unit_name', 'latest.business_unit_name'),
            ]
        ) }}

        union

        {{ renamed_tenant_rows(['tenant_id', 'job_timesheet_id']) }}

    ),

{%- endif %}

timesheets as (

    select all_timesheets.*
    from {{ ref('stg_servicetitan__job_timesheets') }} as all_timesheets
    {%- if is_incremental() %}
        {{ join_within_tenant(
            'all_timesheets', 'to_rebuild', 'job_timesheet_id', join_type='inner'
        ) }}
    {%- endif %}

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
