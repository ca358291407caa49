{#
    Reconciliation: fct_purchase_order_items keeps every item of every purchase order's JSON,
    and fct_purchase_orders' `item_count` and `items_total` are those items', to the cent. The
    expected side reads the raw JSON directly (every `items[*].total`, its text cast to
    DECIMAL), not through the staging model. Returns the orders that disagree.
#}
{{ config(meta={'dagster': {'ref': {'name': 'fct_purchase_orders'}}}) }}

with

raw_items as (

    select
        _tenant_id as tenant_id,
        id as purchase_order_id,
        unnest(json_extract_string(payload, '$.items[*].total')) as item_total
    from {{ source('servicetitan', 'purchase_orders') }}

),

expected as (

    select
        tenant_id,
        purchase_order_id,
        count(*) as item_count,
        cast(sum(cast(item_total as decimal(18, 2))) as decimal(18, 2)) as items_total
    from raw_items
    group by tenant_id, purchase_order_id

),

from_items as (

    select
        tenant_id,
        purchase_order_id,
        count(*) as item_count,
        cast(sum(total) as decimal(18, 2)) as items_total
    from {{ ref('fct_purchase_order_items') }}
    group by tenant_id, purchase_order_id

),

orders as (

    select * from {{ ref('fct_purchase_orders') }}

)

select
    orders.tenant_id,
    orders.purchase_order_id,
    orders.item_count,
    orders.items_total,
    expected.item_count as expected_item_count,
    expected.items_total as expected_items_total,
    from_items.items_total as items_mart_total
from orders
left join expected
    on orders.tenant_id = expected.tenant_id
    and orders.purchase_order_id = expected.purchase_order_id
left join from_items
    on orders.tenant_id = from_items.tenant_id
    and orders.purchase_order_id = from_items.purchase_order_id
where orders.item_count <> coalesce(expected.item_count, 0)
    or orders.items_total <> coalesce(expected.items_total, 0)
    or coalesce(from_items.items_total, 0) <> orders.items_total
    or coalesce(from_items.item_count, 0) <> orders.item_count
