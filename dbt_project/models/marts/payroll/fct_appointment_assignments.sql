{#
    One row per appointment assignment (a technician put on an appointment by a dispatcher),
    inactive ones kept (a technician unassigned before the visit), with the appointment's
    date and the job's business unit.
#}

with

assignments as (

    select * from {{ ref('stg_servicetitan__appointment_assignments') }}

),

appointments as (

    select * from {{ ref('fct_appointments') }}

),

jobs as (

    select * from {{ ref('fct_jobs') }}

),

final as (

    select
        assignments.tenant_id,
        assignments.appointment_assignment_id,
        assignments.appointment_id,
        assignments.job_id,
        assignments.technician_id,
        assignments.technician_name,
        assignments.assigned_by_id,
        jobs.business_unit_id,
        jobs.business_unit_name,
        assignments.assignment_status,
        assignments.is_active,
        assignments.is_paused,
        assignments.assigned_at,
        appointments.starts_at as appointment_starts_at,
        appointments.appointment_date,
        appointments.appointment_status,
        assignments.created_at,
        assignments.modified_at,
        assignments.loaded_at
    from assignments
    {{ join_within_tenant('assignments', 'appointments', 'appointment_id') }}
    {{ join_within_tenant('assignments', 'jobs', 'job_id') }}

)

{{ select_with_connection_name('final') }}
