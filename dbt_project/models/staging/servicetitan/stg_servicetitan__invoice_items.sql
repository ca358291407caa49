with

source as (

    select * from {{ source('servicetitan', 'invoice_items') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as invoice_item_id,
        {{ st_id("payload ->> '$.invoiceId'") }} as invoice_id,
        {{ st_id("payload ->> '$.skuId'") }} as sku_id,
        {{ st_id("payload ->> '$.businessUnit.id'") }} as business_unit_id,
        {{ st_id("payload ->> '$.technicianId'") }} as technician_id,
        {{ st_id("payload ->> '$.membershipTypeId'") }} as membership_type_id,
        {{ st_id("payload ->> '$.generalLedgerAccount.id'") }} as general_ledger_account_id,
        {{ st_id("payload ->> '$.installedEquipmentId'") }} as installed_equipment_id,
        {{ st_id("payload ->> '$.estimateItemId'") }} as estimate_item_id,
        {{ st_id("payload ->> '$.itemGroup.rootId'") }} as item_group_root_id,

        -- attributes
        payload ->> '$.type' as item_type,
        payload ->> '$.skuName' as sku_name,
        payload ->> '$.displayName' as display_name,
        payload ->> '$.description' as description,
        payload ->> '$.businessUnit.name' as business_unit_name,
        payload ->> '$.generalLedgerAccount.name' as general_ledger_account_name,
        payload ->> '$.generalLedgerAccount.number' as general_ledger_account_number,
        -- The account's type as the item carries it (Income, Liability, ...): which items are
        -- revenue as ServiceTitan's dashboard counts it (only items on an income account).
        payload ->> '$.generalLedgerAccount.type' as general_ledger_account_type,
        payload ->> '$.generalLedgerAccount.detailType' as general_ledger_account_detail_type,
        payload ->> '$.itemGroup.name' as item_group_name,
        payload ->> '$.inventoryLocation' as inventory_location,
        cast(payload ->> '$.order' as integer) as item_order,

        -- quantities and money, exact from ServiceTitan's strings
        {{ st_decimal("payload ->> '$.quantity'") }} as quantity,
        {{ st_money("payload ->> '$.price'") }} as unit_price,
        {{ st_money("payload ->> '$.memberPrice'") }} as member_price,
        {{ st_money("payload ->> '$.total'") }} as total,
        {{ st_money("payload ->> '$.cost'") }} as unit_cost,
        {{ st_money("payload ->> '$.totalCost'") }} as total_cost,
        {{ st_decimal("payload ->> '$.soldHours'") }} as sold_hours,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.taxable'") }} as is_taxable,
        {{ st_bool("payload ->> '$.inventory'") }} as is_inventory,
        {{ st_bool("payload ->> '$.isChargeable'") }} as is_chargeable,
        {{ st_bool("payload ->> '$.addOn'") }} as is_add_on,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.serviceDate'") }} as serviced_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
