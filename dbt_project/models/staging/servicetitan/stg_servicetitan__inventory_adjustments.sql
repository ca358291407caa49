with

source as (

    select * from {{ source('servicetitan', 'inventory_adjustments') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as inventory_adjustment_id,
        {{ st_id("payload ->> '$.batch.id'") }} as batch_id,
        -- `batchId` is deprecated in favour of `batch`; kept while ServiceTitan still sends it.
        {{ st_id("payload ->> '$.batchId'") }} as legacy_batch_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.canceledById'") }} as canceled_by_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,
        {{ st_id("payload ->> '$.inventoryLocationId'") }} as inventory_location_id,
        {{ st_id("payload ->> '$.invoiceId'") }} as invoice_id,
        {{ st_id("payload ->> '$.projectId'") }} as project_id,

        -- attributes
        payload ->> '$.batch.name' as batch_name,
        payload ->> '$.batch.number' as batch_number,
        payload ->> '$.canceledReason' as canceled_reason,
        payload ->> '$.memo' as memo,
        payload ->> '$.number' as inventory_adjustment_number,
        payload ->> '$.referenceNumber' as reference_number,
        payload ->> '$.syncStatus' as sync_status,
        payload ->> '$.type' as inventory_adjustment_type,

        -- flags
        active as is_active,

        -- json
        payload -> '$.customFields' as custom_fields,
        payload -> '$.externalData' as external_data,
        payload -> '$.items' as items,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.date'") }} as adjusted_at,
        {{ st_timestamp("payload ->> '$.dateCanceled'") }} as canceled_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
