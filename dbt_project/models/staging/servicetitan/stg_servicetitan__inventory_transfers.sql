with

source as (

    select * from {{ source('servicetitan', 'inventory_transfers') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as inventory_transfer_id,
        {{ st_id("payload ->> '$.batch.id'") }} as batch_id,
        -- `batchId` is deprecated in favour of `batch`; kept while ServiceTitan still sends it.
        {{ st_id("payload ->> '$.batchId'") }} as legacy_batch_id,
        {{ st_id("payload ->> '$.canceledById'") }} as canceled_by_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,
        {{ st_id("payload ->> '$.fromLocationId'") }} as from_location_id,
        {{ st_id("payload ->> '$.invoiceId'") }} as invoice_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.pickedById'") }} as picked_by_id,
        {{ st_id("payload ->> '$.receivedById'") }} as received_by_id,
        {{ st_id("payload ->> '$.toLocationId'") }} as to_location_id,

        -- attributes
        payload ->> '$.batch.name' as batch_name,
        payload ->> '$.batch.number' as batch_number,
        payload ->> '$.canceledReason' as canceled_reason,
        payload ->> '$.memo' as memo,
        payload ->> '$.number' as inventory_transfer_number,
        payload ->> '$.referenceNumber' as reference_number,
        payload ->> '$.status' as inventory_transfer_status,
        payload ->> '$.syncStatus' as sync_status,
        payload ->> '$.transferType' as transfer_type,

        -- flags
        active as is_active,

        -- json
        payload -> '$.customFields' as custom_fields,
        payload -> '$.externalData' as external_data,
        payload -> '$.items' as items,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.date'") }} as transferred_at,
        {{ st_timestamp("payload ->> '$.dateCanceled'") }} as canceled_at,
        {{ st_timestamp("payload ->> '$.dateRequired'") }} as required_at,
        {{ st_timestamp("payload ->> '$.pickedDate'") }} as picked_at,
        {{ st_timestamp("payload ->> '$.receivedDate'") }} as received_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
