with

invoices as (

    select * from {{ ref('int_invoices__enriched') }}

),

items as (

    select
        tenant_id,
        invoice_id,
        count(*) as item_count,
        cast(sum(total) as decimal(18, 2)) as items_total
    from {{ ref('stg_servicetitan__invoice_items') }}
    where is_active
    group by tenant_id, invoice_id

),

applications as (

    select
        tenant_id,
        invoice_id,
        cast(sum(applied_amount) as decimal(18, 2)) as payments_applied
    from {{ ref('stg_servicetitan__payment_applications') }}
    where is_payment_active
    group by tenant_id, invoice_id

),

final as (

    select
        -- keys
        invoices.tenant_id,
        invoices.invoice_id,
        invoices.reference_number,
        invoices.customer_id,
        invoices.surviving_customer_id,
        invoices.location_id,
        invoices.business_unit_id,
        invoices.job_id,
        invoices.adjustment_to_invoice_id,
        invoices.attributed_job_id,
        invoices.attributed_business_unit_id,
        invoices.project_id,
        invoices.membership_id,

        -- names as ServiceTitan put them on the invoice
        invoices.customer_name,
        invoices.location_name,
        invoices.business_unit_name,
        invoices.job_number,
        invoices.job_type_name,

        -- classification
        invoices.is_active,
        invoices.is_adjustment,
        invoices.is_revenue,
        invoices.invoice_configuration,
        invoices.invoice_type_name,
        invoices.sent_status,
        invoices.review_status,
        invoices.term_name,

        -- money (DECIMAL(18,2), exact)
        invoices.subtotal,
        invoices.discount_total,
        invoices.sales_tax,
        invoices.total,
        invoices.revenue,
        invoices.balance,
        coalesce(applications.payments_applied, 0) as payments_applied,
        coalesce(items.item_count, 0) as item_count,
        coalesce(items.items_total, 0) as items_total,
        invoices.sales_tax_rate,

        -- dates (UTC)
        invoices.invoice_date,
        invoices.revenue_date,
        invoices.due_date,
        invoices.invoiced_at,
        invoices.paid_at,
        invoices.created_at,
        invoices.modified_at,

        -- addresses
        invoices.location_address_street,
        invoices.location_address_unit,
        invoices.location_address_city,
        invoices.location_address_state,
        invoices.location_address_zip,
        invoices.location_address_country,
        invoices.customer_address_street,
        invoices.customer_address_unit,
        invoices.customer_address_city,
        invoices.customer_address_state,
        invoices.customer_address_zip,
        invoices.customer_address_country,

        invoices.summary,
        invoices.custom_fields,
        invoices.loaded_at

    from invoices
    {{ join_within_tenant('invoices', 'items', 'invoice_id') }}
    {{ join_within_tenant('invoices', 'applications', 'invoice_id') }}

)

{{ select_with_connection_name('final') }}
