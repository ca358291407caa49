with

source as (

    select * from {{ source('servicetitan', 'inventory_bills') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as inventory_bill_id,
        {{ st_id("payload ->> '$.batch.id'") }} as batch_id,
        {{ st_id("payload ->> '$.budgetCodeId'") }} as budget_code_id,
        {{ st_id("payload ->> '$.businessUnit.id'") }} as business_unit_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.purchaseOrderId'") }} as purchase_order_id,
        {{ st_id("payload ->> '$.taxZone.id'") }} as tax_zone_id,
        {{ st_id("payload ->> '$.vendor.id'") }} as vendor_id,

        -- attributes
        payload ->> '$.batch.name' as batch_name,
        payload ->> '$.batch.number' as batch_number,
        payload ->> '$.businessUnit.name' as business_unit_name,
        payload ->> '$.createdBy' as created_by,
        payload ->> '$.jobNumber' as job_number,
        payload ->> '$.referenceNumber' as reference_number,
        {{ st_address('$.shipTo', 'ship_to') }},
        payload ->> '$.shipToDescription' as ship_to_description,
        payload ->> '$.summary' as inventory_bill_summary,
        payload ->> '$.syncStatus' as sync_status,
        payload ->> '$.taxZone.name' as tax_zone_name,
        payload ->> '$.termName' as term_name,
        payload ->> '$.vendor.name' as vendor_name,
        payload ->> '$.vendorNumber' as vendor_number,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_money("payload ->> '$.billAmount'") }} as bill_amount,
        {{ st_money("payload ->> '$.shippingAmount'") }} as shipping_amount,
        {{ st_money("payload ->> '$.taxAmount'") }} as tax_amount,

        -- flags
        active as is_active,

        -- json
        payload -> '$.customFields' as custom_fields,
        payload -> '$.items' as items,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.billDate'") }} as billed_at,
        {{ st_timestamp("payload ->> '$.dueDate'") }} as due_at,
        {{ st_timestamp("payload ->> '$.postDate'") }} as posted_at,
        -- the bill's business dates, as the invoices' (midnight UTC: their UTC calendar date)
        {{ st_utc_date(st_timestamp("payload ->> '$.billDate'")) }} as bill_date,
        {{ st_utc_date(st_timestamp("payload ->> '$.dueDate'")) }} as due_date,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
