with

source as (

    select * from {{ source('servicetitan', 'business_units') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as business_unit_id,

        -- attributes
        payload ->> '$.name' as business_unit_name,
        payload ->> '$.officialName' as official_name,
        payload ->> '$.trade.name' as trade_name,
        {{ st_id("payload ->> '$.trade.id'") }} as trade_id,
        payload ->> '$.division.name' as division_name,
        {{ st_id("payload ->> '$.division.id'") }} as division_id,
        payload ->> '$.email' as email,
        payload ->> '$.phoneNumber' as phone_number,
        payload ->> '$.currency' as currency,
        {{ st_decimal("payload ->> '$.defaultTaxRate'") }} as default_tax_rate,
        payload ->> '$.accountCode' as account_code,
        payload ->> '$.quickbooksClass' as quickbooks_class,
        payload ->> '$.franchiseId' as franchise_id,

        -- address
        {{ st_address('$.address', 'address') }},

        -- flags
        active as is_active,

        -- json kept for the rare analyst who needs more
        payload -> '$.tagTypeIds' as tag_type_ids,
        payload -> '$.externalData' as external_data,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
