{#
    One row per purchase order, with its vendor's name and its items summed
    (fct_purchase_order_items). ServiceTitan's `total` includes the items, tax and shipping;
    `items_total` is what the items add up to, so `items_total + tax + shipping = total` can be
    checked (assert_memberships_purchase_order_totals_reconcile_with_items).
#}

with

purchase_orders as (

    select * from {{ ref('stg_servicetitan__purchase_orders') }}

),

vendors as (

    select * from {{ ref('stg_servicetitan__vendors') }}

),

business_units as (

    select * from {{ ref('stg_servicetitan__business_units') }}

),

items as (

    select * from {{ ref('fct_purchase_order_items') }}

),

order_items as (

    select
        tenant_id,
        purchase_order_id,
        count(*) as item_count,
        {{ money_total('total') }} as items_total
    from items
    group by tenant_id, purchase_order_id

),

final as (

    select
        -- keys
        purchase_orders.tenant_id,
        purchase_orders.purchase_order_id,
        purchase_orders.purchase_order_number,
        purchase_orders.vendor_id,
        purchase_orders.purchase_order_type_id,
        purchase_orders.business_unit_id,
        purchase_orders.job_id,
        purchase_orders.invoice_id,
        purchase_orders.project_id,
        purchase_orders.technician_id,
        purchase_orders.inventory_location_id,
        purchase_orders.batch_id,
        purchase_orders.budget_code_id,

        -- names, for reading without joins
        vendors.vendor_name,
        business_units.business_unit_name,

        -- attributes
        purchase_orders.purchase_order_status,
        purchase_orders.purchase_order_summary,
        purchase_orders.vendor_document_number,
        purchase_orders.ship_to_street,
        purchase_orders.ship_to_unit,
        purchase_orders.ship_to_city,
        purchase_orders.ship_to_state,
        purchase_orders.ship_to_zip,
        purchase_orders.ship_to_country,

        -- money
        coalesce(order_items.item_count, 0) as item_count,
        coalesce(order_items.items_total, 0) as items_total,
        purchase_orders.tax,
        purchase_orders.shipping,
        purchase_orders.total,

        -- dates (UTC)
        purchase_orders.ordered_at,
        {{ st_utc_date('purchase_orders.ordered_at') }} as ordered_date,
        cast(
            date_trunc('month', {{ st_utc_date('purchase_orders.ordered_at') }}) as date
        ) as ordered_month,
        purchase_orders.required_at,
        purchase_orders.sent_at,
        purchase_orders.received_at,
        purchase_orders.created_at,
        purchase_orders.modified_at,

        purchase_orders.custom_fields,
        purchase_orders.loaded_at

    from purchase_orders
    {{ join_within_tenant('purchase_orders', 'vendors', 'vendor_id') }}
    {{ join_within_tenant('purchase_orders', 'business_units', 'business_unit_id') }}
    {{ join_within_tenant('purchase_orders', 'order_items', 'purchase_order_id') }}

)

{{ select_with_connection_name('final') }}
