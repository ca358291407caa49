with

recurring_services as (

    select * from {{ ref('stg_servicetitan__recurring_services') }}

),

recurring_service_types as (

    select * from {{ ref('stg_servicetitan__recurring_service_types') }}

),

final as (

    select
        -- keys
        recurring_services.tenant_id,
        recurring_services.recurring_service_id,
        recurring_services.membership_id,
        recurring_services.location_id,
        recurring_services.recurring_service_type_id,
        recurring_services.business_unit_id,
        recurring_services.job_type_id,
        recurring_services.campaign_id,
        recurring_services.activated_from_id,
        recurring_services.invoice_template_id,

        -- attributes
        recurring_services.recurring_service_name,
        recurring_service_types.recurring_service_type_name,
        recurring_services.priority,
        recurring_services.duration_type,
        recurring_services.duration_length,
        recurring_services.recurrence_type,
        recurring_services.recurrence_interval,
        recurring_services.recurrence_months,
        recurring_services.recurrence_days_of_week,
        recurring_services.recurrence_days_of_month,
        recurring_services.recurrence_week,
        recurring_services.recurrence_day_of_nth_week,
        recurring_services.job_start_time_seconds,
        recurring_services.preferred_technician_ids,
        recurring_services.job_summary,

        -- flags
        recurring_services.is_active,
        recurring_services.is_first_visit_complete,

        -- money
        recurring_services.estimated_payroll_cost,
        recurring_services.allocation,

        -- dates (UTC)
        {{ st_utc_date('recurring_services.active_from_at') }} as active_from_date,
        {{ st_utc_date('recurring_services.active_to_at') }} as active_to_date,
        recurring_services.created_at,
        recurring_services.modified_at,
        recurring_services.loaded_at

    from recurring_services
    {{ join_within_tenant(
        'recurring_services', 'recurring_service_types', 'recurring_service_type_id'
    ) }}

)

{{ select_with_connection_name('final') }}
