with

appointments as (

    select * from {{ ref('stg_servicetitan__appointments') }}

),

jobs as (

    select * from {{ ref('stg_servicetitan__jobs') }}

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
