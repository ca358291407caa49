{#
    Incremental (docs/incremental.md): each run rebuilds the invoices loaded since the last
    build, the adjustments of those (they inherit the original's job, business unit and
    customer), the invoices whose items were loaded since, those whose payments applied or
    surviving customer (a merge) changed, and every invoice of a renamed tenant.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'invoice_id'],
    post_hook=[
        "{{ delete_rows_gone_from(source('servicetitan', 'invoices'), [('invoice_id', 'id')]) }}",
        "{{ record_incremental_watermark() }}",
    ]
) }}
-- depends_on: {{ ref('stg_servicetitan__invoices') }}
-- depends_on: {{ ref('int_customers__merge_resolved') }}
-- depends_on: {{ source('servicetitan', 'invoices') }}

with

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

{%- if is_incremental() %}

    loaded_since as (

        select
            tenant_id,
            invoice_id
        from {{ ref('stg_servicetitan__invoices') }}
        where loaded_at > {{ incremental_watermark() }}

    ),

    to_rebuild as (

        select * from loaded_since

        union

        -- adjustments of a re-loaded invoice: they inherit from it
        select
            built.tenant_id,
            built.invoice_id
        from {{ this }} as built
        inner join loaded_since
            on built.tenant_id = loaded_since.tenant_id
            and built.adjustment_to_invoice_id = loaded_since.invoice_id

        union

        -- an item's invoice never changes, so a re-loaded item names the invoice it counts in
        select
            tenant_id,
            invoice_id
        from {{ ref('stg_servicetitan__invoice_items') }}
        where loaded_at > {{ incremental_watermark() }} and invoice_id is not null

        union

        {{ stale_stored_rows(
            ['tenant_id', 'invoice_id'],
            'applications',
            'built.tenant_id = latest.tenant_id and built.invoice_id = latest.invoice_id',
            [('payments_applied', 'coalesce(latest.payments_applied, 0)')]
        ) }}

        union

        -- the customer after merges, of the invoice's own customer or the adjusted original's
        select
            built.tenant_id,
            built.invoice_id
        from {{ this }} as built
        left join {{ this }} as original
            on built.tenant_id = original.tenant_id
            and built.adjustment_to_invoice_id = original.invoice_id
        left join {{ ref('int_customers__merge_resolved') }} as customer_merges
            on built.tenant_id = customer_merges.tenant_id
            and coalesce(built.customer_id, original.customer_id) = customer_merges.customer_id
        where
            built.surviving_customer_id is distinct from coalesce(
                customer_merges.surviving_customer_id, built.customer_id, original.customer_id
            )

        union

        {{ renamed_tenant_rows(['tenant_id', 'invoice_id']) }}

    ),

{%- endif %}

invoices as (

    select enriched.*
    from {{ ref('int_invoices__enriched') }} as enriched
    {% if is_incremental() -%}
        {{ join_within_tenant('enriched', 'to_rebuild', 'invoice_id', join_type='inner') }}
    {%- endif %}

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
