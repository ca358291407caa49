{#
    One row per item of an estimate (the estimate's nested `items` array). Staged from the same
    raw table as stg_servicetitan__estimates, because the items ARE part of the source record
    (ServiceTitan has no export of estimate items): unnesting them is shaping, not business
    logic. Each row carries its estimate's keys, so items group by job, customer or business
    unit without a join.
#}

with

source as (

    select * from {{ source('servicetitan', 'estimates') }}

),

item_lists as (

    select
        source._tenant_id,
        source.id as estimate_id,
        source.active as is_estimate_active,
        source._connection,
        source._loaded_at,
        {{ st_id("source.payload ->> '$.jobId'") }} as job_id,
        {{ st_id("source.payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("source.payload ->> '$.locationId'") }} as location_id,
        {{ st_id("source.payload ->> '$.businessUnitId'") }} as business_unit_id,
        -- Each item stays JSON here, so that its numbers keep their text (money is cast from
        -- it, never through DOUBLE).
        cast(source.payload -> '$.items' as json[]) as items
    from source

),

items as (

    select
        item_lists._tenant_id,
        item_lists.estimate_id,
        item_lists.is_estimate_active,
        item_lists.job_id,
        item_lists.customer_id,
        item_lists.location_id,
        item_lists.business_unit_id,
        item_lists._connection,
        item_lists._loaded_at,
        -- Position within the array: the key, since the spec promises nothing about item ids
        -- being unique.
        generate_subscripts(item_lists.items, 1) as item_index,
        unnest(item_lists.items) as item
    from item_lists

),

renamed as (

    select
        -- keys
        items._tenant_id as tenant_id,
        items.estimate_id,
        items.item_index,
        {{ st_id("items.item ->> '$.id'") }} as estimate_item_id,
        items.job_id,
        items.customer_id,
        items.location_id,
        items.business_unit_id,
        {{ st_id("items.item ->> '$.sku.id'") }} as sku_id,
        {{ st_id("items.item ->> '$.sku.generalLedgerAccountId'") }} as general_ledger_account_id,
        {{ st_id("items.item ->> '$.membershipTypeId'") }} as membership_type_id,
        {{ st_id("items.item ->> '$.itemGroupRootId'") }} as item_group_root_id,
        {{ st_id("items.item ->> '$.budgetCodeId'") }} as budget_code_id,
        -- The invoice item created from this estimate item once the estimate was sold.
        {{ st_id("items.item ->> '$.invoiceItemId'") }} as invoice_item_id,

        -- attributes
        items.item ->> '$.sku.name' as sku_name,
        items.item ->> '$.sku.displayName' as sku_display_name,
        items.item ->> '$.sku.type' as sku_type,
        items.item ->> '$.sku.generalLedgerAccountName' as general_ledger_account_name,
        items.item ->> '$.skuAccount' as sku_account,
        items.item ->> '$.description' as description,
        items.item ->> '$.itemGroupName' as item_group_name,

        -- quantities and money: JSON numbers whose text is cast exactly; rates keep four
        -- decimals, totals are to the cent.
        {{ st_decimal("items.item ->> '$.qty'") }} as quantity,
        {{ st_decimal("items.item ->> '$.unitRate'") }} as unit_rate,
        {{ st_money("items.item ->> '$.total'") }} as total,
        {{ st_decimal("items.item ->> '$.unitCost'") }} as unit_cost,
        {{ st_money("items.item ->> '$.totalCost'") }} as total_cost,
        {{ st_decimal("items.item ->> '$.sku.soldHours'") }} as sold_hours,

        -- flags
        items.is_estimate_active,
        {{ st_bool("items.item ->> '$.chargeable'") }} as is_chargeable,

        -- timestamps (UTC): the item's own
        {{ st_timestamp("items.item ->> '$.createdOn'") }} as created_at,
        {{ st_timestamp("items.item ->> '$.modifiedOn'") }} as modified_at,

        -- lineage
        items._connection as connection_name,
        items._loaded_at as loaded_at

    from items

)

select * from renamed
