{#
    Incremental (docs/incremental.md): each run rebuilds the appointments loaded since the last
    build, those whose job's location, business unit or job type changed, and every appointment
    of a renamed tenant. The job's columns come from fct_jobs (the same values as the staged
    job's).
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'appointment_id'],
    post_hook=[
        "{{ delete_rows_gone_from(source('servicetitan', 'appointments'), [('appointment_id', 'id')]) }}",
        "{{ record_incremental_watermark() }}",
    ]
) }}
-- depends_on: {{ source('servicetitan', 'appointments') }}

with

{%- if is_incremental() %}

    to_rebuild as (

        select
            tenant_id,
            appointment_id
        from {{ ref('stg_servicetitan__appointments') }}
        where loaded_at > {{ incremental_watermark() }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'appointment_id'],
            ref('fct_jobs'),
            'built.tenant_id = latest.tenant_id and built.job_id = latest.job_id',
            [
                ('location_id', 'latest.location_id'),
                ('business_unit_id', 'latest.business_unit_id'),
                ('job_type_id', 'latest.job_type_id'),
            ]
        ) }}

        union

        {{ renamed_tenant_rows(['tenant_id', 'appointment_id']) }}

    ),

{%- endif %}

appointments as (

    select all_appointments.*
    from {{ ref('stg_servicetitan__appointments') }} as all_appointments
    {%- if is_incremental() %}
        {{ join_within_tenant(
            'all_appointments', 'to_rebuild', 'appointment_id', join_type='inner'
        ) }}
    {%- endif %}

),

jobs as (

    select * from {{ ref('fct_jobs') }}

),

final as (

    select
        appointments.tenant_id,
        appointments.appointment_id,
        appointments.appointment_number,
        appointments.job_id,
        appointments.customer_id,
        jobs.location_id,
        jobs.business_unit_id,
        jobs.job_type_id,
        appointments.appointment_status,
        appointments.is_active,
        appointments.is_confirmed,
        appointments.starts_at,
        appointments.ends_at,
        {{ st_utc_date('appointments.starts_at') }} as appointment_date,
        date_diff('minute', appointments.starts_at, appointments.ends_at) as scheduled_minutes,
        appointments.arrival_window_starts_at,
        appointments.arrival_window_ends_at,
        appointments.special_instructions,
        appointments.created_at,
        appointments.modified_at,
        appointments.loaded_at
    from appointments
    {{ join_within_tenant('appointments', 'jobs', 'job_id') }}

)

{{ select_with_connection_name('final') }}
