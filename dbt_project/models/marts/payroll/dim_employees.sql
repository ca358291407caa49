{#
    One row per office employee (stg_servicetitan__employees: CSRs, dispatchers, managers).
    Technicians are in dim_technicians; gross pay and payroll adjustments name either, by
    their `employee_type`.
#}

with

employees as (

    select * from {{ ref('stg_servicetitan__employees') }}

),

business_units as (

    select * from {{ ref('stg_servicetitan__business_units') }}

),

final as (

    select
        employees.tenant_id,
        employees.employee_id,
        employees.employee_name,
        employees.first_name,
        employees.last_name,
        employees.employee_role,
        employees.role_ids,
        employees.business_unit_id,
        business_units.business_unit_name,
        employees.manager_id,
        employees.user_id,
        employees.agent_id,
        employees.login_name,
        employees.email,
        employees.phone_number,
        employees.hourly_rate,
        employees.is_active,
        employees.is_account_locked,
        employees.started_at,
        employees.terminated_at,
        employees.custom_fields,
        employees.created_at,
        employees.modified_at,
        employees.loaded_at
    from employees
    {{ join_within_tenant('employees', 'business_units', 'business_unit_id') }}

)

{{ select_with_connection_name('final') }}
