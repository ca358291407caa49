with

customers as (

    select * from {{ ref('stg_servicetitan__customers') }}

),

customer_merges as (

    select * from {{ ref('int_customers__merge_resolved') }}

),

final as (

    select
        customers.tenant_id,
        customers.customer_id,
        customers.customer_name,
        customers.customer_type,
        customers.is_active,
        customers.is_merged,
        customers.merged_to_customer_id,
        customer_merges.surviving_customer_id,
        customers.address_street,
        customers.address_unit,
        customers.address_city,
        customers.address_state,
        customers.address_zip,
        customers.address_country,
        customers.address_latitude,
        customers.address_longitude,
        customers.balance,
        customers.credit_limit,
        customers.payment_term_id,
        customers.is_tax_exempt,
        customers.is_do_not_mail,
        customers.is_do_not_service,
        customers.is_national_account,
        customers.tag_type_ids,
        customers.custom_fields,
        customers.created_at,
        customers.modified_at,
        customers.loaded_at
    from customers
    {{ join_within_tenant('customers', 'customer_merges', 'customer_id') }}

)

{{ select_with_connection_name('final') }}
