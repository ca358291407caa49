with

job_types as (

    select * from {{ ref('stg_servicetitan__job_types') }}

),

final as (

    select
        tenant_id,
        job_type_id,
        job_type_name,
        job_class,
        default_priority,
        duration_seconds,
        sold_threshold,
        is_active,
        is_no_charge,
        is_smart_dispatched,
        business_unit_ids,
        created_at,
        modified_at,
        loaded_at
    from job_types

)

{{ select_with_connection_name('final') }}
