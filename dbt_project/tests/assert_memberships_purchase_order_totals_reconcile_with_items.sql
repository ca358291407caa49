{#
    Reconciliation: a purchase order's total is its items' totals plus its tax and shipping, to
    the cent, as ServiceTitan documents `total` ("including items cost, tax and shipping
    cost"). A warning, not an error: the mart reports ServiceTitan's figures as sent and cannot
    correct an order that breaks the rule; the orders returned are the ones to look at.
#}
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'fct_purchase_orders'}}}) }}

select
    tenant_id,
    purchase_order_id,
    items_total,
    tax,
    shipping,
    total,
    items_total + coalesce(tax, 0) + coalesce(shipping, 0) - total as difference
from {{ ref('fct_purchase_orders') }}
where items_total + coalesce(tax, 0) + coalesce(shipping, 0) <> total
