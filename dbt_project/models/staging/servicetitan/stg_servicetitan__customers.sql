with

source as (

    select * from {{ source('servicetitan', 'customers') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as customer_id,
        -- Set when this customer was merged into another one; the record then stays, inactive.
        {{ st_id("payload ->> '$.mergedToId'") }} as merged_to_customer_id,
        {{ st_id("payload ->> '$.paymentTermId'") }} as payment_term_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,

        -- attributes
        payload ->> '$.name' as customer_name,
        payload ->> '$.type' as customer_type,

        -- address
        {{ st_address('$.address', 'address') }},
        cast(payload ->> '$.address.latitude' as double) as address_latitude,
        cast(payload ->> '$.address.longitude' as double) as address_longitude,

        -- money. Unlike the accounting module, CRM sends these as JSON numbers: the number's
        -- text is cast to DECIMAL (exact for any balance below 10^13, i.e. 15 significant digits).
        {{ st_money("payload ->> '$.balance'") }} as balance,
        {{ st_money("payload ->> '$.creditLimit'") }} as credit_limit,
        {{ st_money("payload ->> '$.creditLimitBalance'") }} as credit_limit_balance,

        -- flags
        active as is_active,
        {{ st_id("payload ->> '$.mergedToId'") }} is not null as is_merged,
        {{ st_bool("payload ->> '$.taxExempt'") }} as is_tax_exempt,
        {{ st_bool("payload ->> '$.doNotMail'") }} as is_do_not_mail,
        {{ st_bool("payload ->> '$.doNotService'") }} as is_do_not_service,
        {{ st_bool("payload ->> '$.nationalAccount'") }} as is_national_account,

        -- json
        {{ st_id_list("payload -> '$.tagTypeIds'") }} as tag_type_ids,
        payload -> '$.customFields' as custom_fields,
        payload -> '$.externalData' as external_data,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
