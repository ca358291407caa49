with

source as (

    select * from {{ source('servicetitan', 'purchase_orders') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as purchase_order_id,
        {{ st_id("payload ->> '$.batchId'") }} as batch_id,
        {{ st_id("payload ->> '$.budgetCodeId'") }} as budget_code_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.inventoryLocationId'") }} as inventory_location_id,
        {{ st_id("payload ->> '$.invoiceId'") }} as invoice_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.projectId'") }} as project_id,
        {{ st_id("payload ->> '$.technicianId'") }} as technician_id,
        {{ st_id("payload ->> '$.typeId'") }} as purchase_order_type_id,
        {{ st_id("payload ->> '$.vendorId'") }} as vendor_id,

        -- attributes
        payload ->> '$.number' as purchase_order_number,
        {{ st_address('$.shipTo', 'ship_to') }},
        payload ->> '$.status' as purchase_order_status,
        payload ->> '$.summary' as purchase_order_summary,
        payload ->> '$.vendorDocumentNumber' as vendor_document_number,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_money("payload ->> '$.shipping'") }} as shipping,
        {{ st_money("payload ->> '$.tax'") }} as tax,
        {{ st_money("payload ->> '$.total'") }} as total,

        -- json
        payload -> '$.customFields' as custom_fields,
        payload -> '$.items' as items,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.date'") }} as ordered_at,
        {{ st_timestamp("payload ->> '$.receivedOn'") }} as received_at,
        {{ st_timestamp("payload ->> '$.requiredOn'") }} as required_at,
        {{ st_timestamp("payload ->> '$.sentOn'") }} as sent_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
