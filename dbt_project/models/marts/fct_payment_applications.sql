with

applications as (

    select * from {{ ref('stg_servicetitan__payment_applications') }}

),

payments as (

    select * from {{ ref('stg_servicetitan__payments') }}

),

final as (

    select
        applications.tenant_id,
        applications.payment_id,
        applications.application_index,
        applications.applied_id,
        applications.invoice_id,
        applications.invoice_reference_number,
        payments.customer_id,
        payments.payment_type,
        applications.applied_amount,
        applications.is_payment_active,
        applications.applied_by,
        applications.applied_at,
        payments.payment_date,
        applications.loaded_at
    from applications
    {{ join_within_tenant('applications', 'payments', 'payment_id') }}

)

{{ select_with_connection_name('final') }}
