{#
    One row per line item of a purchase order: the order's `items` array, which the staging
    model keeps as JSON, unnested. Quantities and money are JSON numbers: their text is cast
    straight to DECIMAL, never through DOUBLE. The key is the item's position in the array
    (nothing in the spec promises item ids are unique within an order, and items are not
    records of their own).
#}

with

purchase_orders as (

    select * from {{ ref('stg_servicetitan__purchase_orders') }}

),

item_lists as (

    select
        tenant_id,
        purchase_order_id,
        loaded_at,
        cast(from_json(items, '["JSON"]') as json[]) as items
    from purchase_orders
    where items is not null

),

unnested as (

    select
        tenant_id,
        purchase_order_id,
        loaded_at,
        generate_subscripts(items, 1) as item_index,
        unnest(items) as item
    from item_lists

),

final as (

    select
        -- keys
        tenant_id,
        purchase_order_id,
        item_index,
        {{ st_id("item ->> '$.id'") }} as purchase_order_item_id,
        {{ st_id("item ->> '$.skuId'") }} as sku_id,
        {{ st_id("item ->> '$.budgetCodeId'") }} as budget_code_id,

        -- attributes
        item ->> '$.skuName' as sku_name,
        item ->> '$.skuCode' as sku_code,
        item ->> '$.skuType' as sku_type,
        item ->> '$.description' as item_description,
        item ->> '$.vendorPartNumber' as vendor_part_number,
        item ->> '$.status' as item_status,

        -- quantities and money, exact from the JSON numbers' text
        {{ st_decimal("item ->> '$.quantity'") }} as quantity,
        {{ st_decimal("item ->> '$.quantityReceived'") }} as quantity_received,
        {{ st_money("item ->> '$.cost'") }} as unit_cost,
        {{ st_money("item ->> '$.total'") }} as total,

        -- flags
        {{ st_bool("item ->> '$.chargeable'") }} as is_chargeable,

        -- timestamps (UTC)
        {{ st_timestamp("item ->> '$.createdOn'") }} as created_at,
        {{ st_timestamp("item ->> '$.modifiedOn'") }} as modified_at,
        loaded_at

    from unnested

)

{{ select_with_connection_name('final') }}
