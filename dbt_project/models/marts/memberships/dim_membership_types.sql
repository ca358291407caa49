with

membership_types as (

    select * from {{ ref('stg_servicetitan__membership_types') }}

),

final as (

    select
        tenant_id,
        membership_type_id,
        membership_type_name,
        display_name,
        billing_template_id,
        is_active,
        discount_mode,
        discount,
        location_target,
        revenue_recognition_mode,
        is_membership_pricing_table_used,
        duration_billing,
        recurring_services,
        created_at,
        modified_at
    from membership_types

)

{{ select_with_connection_name('final') }}
