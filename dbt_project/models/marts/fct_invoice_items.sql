{#
    Incremental (docs/incremental.md): each run rebuilds the items loaded since the last build,
    the items of invoices loaded since (and of the adjustments of those: they inherit the
    original's job and business unit), those whose invoice's surviving customer changed (a
    merge), and every item of a renamed tenant. The invoice's columns come from fct_invoices,
    the same values as int_invoices__enriched's.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'invoice_item_id'],
    post_hook=[
        "{{ delete_rows_gone_from(source('servicetitan', 'invoice_items'), [('invoice_item_id', 'id')]) }}",
        "{{ record_incremental_watermark() }}",
    ]
) }}
-- depends_on: {{ ref('stg_servicetitan__invoices') }}
-- depends_on: {{ source('servicetitan', 'invoice_items') }}

with

{%- if is_incremental() %}

    invoices_loaded_since as (

        select
            tenant_id,
            invoice_id
        from {{ ref('stg_servicetitan__invoices') }}
        where loaded_at > {{ incremental_watermark() }}

    ),

    invoices_to_rebuild as (

        select * from invoices_loaded_since

        union

        select
            adjustments.tenant_id,
            adjustments.invoice_id
        from {{ ref('fct_invoices') }} as adjustments
        inner join invoices_loaded_since
            on adjustments.tenant_id = invoices_loaded_since.tenant_id
            and adjustments.adjustment_to_invoice_id = invoices_loaded_since.invoice_id

    ),

    to_rebuild as (

        select
            tenant_id,
            invoice_item_id
        from {{ ref('stg_servicetitan__invoice_items') }}
        where loaded_at > {{ incremental_watermark() }}

        union

        select
            built.tenant_id,
            built.invoice_item_id
        from {{ this }} as built
        inner join invoices_to_rebuild
            on built.tenant_id = invoices_to_rebuild.tenant_id
            and built.invoice_id = invoices_to_rebuild.invoice_id

        union

        {{ stale_stored_rows(
            ['tenant_id', 'invoice_item_id'],
            ref('fct_invoices'),
            'built.tenant_id = latest.tenant_id and built.invoice_id = latest.invoice_id',
            [('surviving_customer_id', 'latest.surviving_customer_id')]
        ) }}

        union

        {{ renamed_tenant_rows(['tenant_id', 'invoice_item_id']) }}

    ),

{%- endif %}

items as (

    select all_items.*
    from {{ ref('stg_servicetitan__invoice_items') }} as all_items
    {% if is_incremental() -%}
        {{ join_within_tenant('all_items', 'to_rebuild', 'invoice_item_id', join_type='inner') }}
    {%- endif %}

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
    from {{ ref('fct_invoices') }}

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
