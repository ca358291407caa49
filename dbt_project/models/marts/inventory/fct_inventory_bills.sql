{#
    One row per inventory (vendor) bill, with the purchase order it bills and that order's
    total, so a bill can be matched against what was ordered. `bill_amount` is ServiceTitan's
    amount of the bill; its tax and shipping are shown apart as the API sends them.
#}

with

bills as (

    select * from {{ ref('stg_servicetitan__inventory_bills') }}

),

purchase_orders as (

    select * from {{ ref('stg_servicetitan__purchase_orders') }}

),

final as (

    select
        -- keys
        bills.tenant_id,
        bills.inventory_bill_id,
        bills.reference_number,
        bills.purchase_order_id,
        bills.vendor_id,
        bills.business_unit_id,
        bills.job_id,
        bills.batch_id,
        bills.tax_zone_id,
        bills.budget_code_id,

        -- names, as the bill carries them
        bills.vendor_name,
        bills.business_unit_name,

        -- attributes
        bills.vendor_number,
        bills.job_number,
        bills.inventory_bill_summary,
        bills.sync_status,
        bills.term_name,
        bills.created_by,

        -- flags
        bills.is_active,

        -- money
        bills.bill_amount,
        bills.tax_amount,
        bills.shipping_amount,
        purchase_orders.total as purchase_order_total,

        -- dates (UTC)
        bills.bill_date,
        cast(date_trunc('month', bills.bill_date) as date) as bill_month,
        bills.due_date,
        bills.posted_at,
        bills.created_at,
        bills.modified_at,

        bills.custom_fields,
        bills.loaded_at

    from bills
    {{ join_within_tenant('bills', 'purchase_orders', 'purchase_order_id') }}

)

{{ select_with_connection_name('final') }}
