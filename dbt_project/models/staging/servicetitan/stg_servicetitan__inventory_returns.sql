with

source as (

    select * from {{ source('servicetitan', 'inventory_returns') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as inventory_return_id,
        {{ st_id("payload ->> '$.batch.id'") }} as batch_id,
        -- `batchId` is deprecated in favour of `batch`; kept while ServiceTitan still sends it.
        {{ st_id("payload ->> '$.batchId'") }} as legacy_batch_id,
        {{ st_id("payload ->> '$.budgetCodeId'") }} as budget_code_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.canceledById'") }} as canceled_by_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,
        {{ st_id("payload ->> '$.inventoryLocationId'") }} as inventory_location_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.projectId'") }} as project_id,
        {{ st_id("payload ->> '$.purchaseOrderId'") }} as purchase_order_id,
        {{ st_id("payload ->> '$.vendorId'") }} as vendor_id,

        -- attributes
        payload ->> '$.batch.name' as batch_name,
        payload ->> '$.batch.number' as batch_number,
        payload ->> '$.canceledReason' as canceled_reason,
        payload ->> '$.memo' as memo,
        payload ->> '$.number' as inventory_return_number,
        payload ->> '$.referenceNumber' as reference_number,
        payload ->> '$.status' as inventory_return_status,
        payload ->> '$.syncStatus' as sync_status,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_money("payload ->> '$.returnAmount'") }} as return_amount,
        {{ st_money("payload ->> '$.shippingAmount'") }} as shipping_amount,
        {{ st_money("payload ->> '$.taxAmount'") }} as tax_amount,

        -- flags
        active as is_active,

        -- json
        payload -> '$.customFields' as custom_fields,
        payload -> '$.externalData' as external_data,
        payload -> '$.items' as items,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.creditReceivedOn'") }} as credit_received_at,
        {{ st_timestamp("payload ->> '$.dateCanceled'") }} as canceled_at,
        {{ st_timestamp("payload ->> '$.returnDate'") }} as return_date_at,
        {{ st_timestamp("payload ->> '$.returnedOn'") }} as returned_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
