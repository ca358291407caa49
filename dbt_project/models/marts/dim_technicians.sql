with

technicians as (

    select * from {{ ref('stg_servicetitan__technicians') }}

),

business_units as (

    select * from {{ ref('stg_servicetitan__business_units') }}

),

final as (

    select
        technicians.tenant_id,
        technicians.technician_id,
        technicians.technician_name,
        technicians.first_name,
        technicians.last_name,
        technicians.is_active,
        technicians.business_unit_id,
        business_units.business_unit_name,
        technicians.team,
        technicians.technician_status,
        technicians.license_type,
        technicians.is_managed_tech,
        technicians.email,
        technicians.phone_number,
        technicians.mobile_phone,
        technicians.daily_goal,
        technicians.hourly_rate,
        technicians.burden_rate,
        technicians.commission_rate,
        technicians.sold_by_rate,
        technicians.positions,
        technicians.skills,
        technicians.custom_fields,
        technicians.started_at,
        technicians.created_at,
        technicians.modified_at,
        technicians.loaded_at
    from technicians
    {{ join_within_tenant('technicians', 'business_units', 'business_unit_id') }}

)

{{ select_with_connection_name('final') }}
