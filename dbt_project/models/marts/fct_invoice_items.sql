with

items as (

    select * from {{ ref('stg_servicetitan__invoice_items') }}

),

invoices as (

    select
        tenant_id,
        invoice_id,
        invoice_date,
        revenue_date,
        is_active as is_invoice_active,
        is_adjustment as is_invoice_adjustment,
        surviving_customer_id,
        attributed_job_id as job_id,
        attributed_business_unit_id as invoice_business_unit_id
    from {{ ref('int_invoices__enriched') }}

),

final as (

    select
        -- keys
        items.tenant_id,
        items.invoice_item_id,
        items.invoice_id,
        invoices.job_id,
        invoices.surviving_customer_id,
        items.sku_id,
        items.technician_id,
        coalesce(items.business_unit_id, invoices.invoice_business_unit_id) as business_unit_id,

        -- attributes
        items.item_type,
        items.sku_name,
        items.display_name,
        items.description,
        items.item_order,
        items.general_ledger_account_name,
        items.general_ledger_account_number,

        -- flags
        items.is_active,
        invoices.is_invoice_active,
        invoices.is_invoice_adjustment,
        items.is_taxable,
        items.is_add_on,
        items.is_chargeable,

        -- quantities and money (exact)
        items.quantity,
        items.unit_price,
        items.total,
        items.unit_cost,
        items.total_cost,
        cast(items.total - coalesce(items.total_cost, 0) as decimal(18, 2)) as gross_margin,

        -- dates (UTC)
        invoices.invoice_date,
        invoices.revenue_date,
        items.serviced_at,
        items.created_at,
        items.modified_at,
        items.loaded_at

    from items
    {{ join_within_tenant('items', 'invoices', 'invoice_id') }}

)

{{ select_with_connection_name('final') }}
