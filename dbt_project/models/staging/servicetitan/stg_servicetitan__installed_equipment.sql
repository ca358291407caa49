with

source as (

    select * from {{ source('servicetitan', 'installed_equipment') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as installed_equipment_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.equipmentId'") }} as equipment_id,
        {{ st_id("payload ->> '$.invoiceItemId'") }} as invoice_item_id,
        {{ st_id("payload ->> '$.locationId'") }} as location_id,
        {{ st_id("payload ->> '$.type.id'") }} as equipment_type_id,

        -- attributes
        {{ st_date("payload ->> '$.actualReplacementDate'") }} as actual_replacement_date,
        payload ->> '$.barcodeId' as barcode_id,
        payload ->> '$.manufacturer' as manufacturer,
        payload ->> '$.memo' as memo,
        payload ->> '$.model' as equipment_model,
        payload ->> '$.name' as installed_equipment_name,
        {{ st_date("payload ->> '$.predictedReplacementDate'") }} as predicted_replacement_date,
        cast(payload ->> '$.predictedReplacementMonths' as integer) as predicted_replacement_months,
        payload ->> '$.serialNumber' as serial_number,
        payload ->> '$.status' as installed_equipment_status,
        payload ->> '$.type.name' as equipment_type_name,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_money("payload ->> '$.cost'") }} as equipment_cost,

        -- flags
        active as is_active,

        -- json
        payload -> '$.tags' as tags,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.installedOn'") }} as installed_at,
        {{ st_timestamp("payload ->> '$.manufacturerWarrantyEnd'") }}
            as manufacturer_warranty_end_at,
        {{ st_timestamp("payload ->> '$.manufacturerWarrantyStart'") }}
            as manufacturer_warranty_start_at,
        {{ st_timestamp("payload ->> '$.serviceProviderWarrantyEnd'") }}
            as service_provider_warranty_end_at,
        {{ st_timestamp("payload ->> '$.serviceProviderWarrantyStart'") }}
            as service_provider_warranty_start_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
