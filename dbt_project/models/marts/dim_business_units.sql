with

business_units as (

    select * from {{ ref('stg_servicetitan__business_units') }}

),

final as (

    select
        tenant_id,
        business_unit_id,
        business_unit_name,
        official_name,
        trade_name,
        division_name,
        is_active,
        currency,
        default_tax_rate,
        email,
        phone_number,
        account_code,
        quickbooks_class,
        address_street,
        address_unit,
        address_city,
        address_state,
        address_zip,
        address_country,
        created_at,
        modified_at,
        loaded_at
    from business_units

)

{{ select_with_connection_name('final') }}
