{#
    Invoices with the business rules every revenue figure shares, decided once here:

    * `revenue` = total - sales tax: what the company earned, before the tax it collects for the
      state. `total` (with tax) is kept for AR and reconciliation.
    * `is_revenue` = the invoice is active. Inactive invoices are voided/deleted in ServiceTitan
      and count nowhere. Adjustment invoices (`adjustmentToId` set) DO count: they are how
      ServiceTitan corrects a posted invoice (credits are negative), on their own invoice date.
    * An adjustment that carries no job / business unit / customer inherits the original
      invoice's, so corrections land where the original revenue did.
    * `surviving_customer_id`: the customer after merges (int_customers__merge_resolved).
    * `revenue_date` = the invoice date (UTC calendar date), or the creation date when
      ServiceTitan has no invoice date yet.
#}

with

invoices as (

    select * from {{ ref('stg_servicetitan__invoices') }}

),

customer_merges as (

    select * from {{ ref('int_customers__merge_resolved') }}

),

-- what an adjustment invoice inherits from the invoice it adjusts
originals as (

    select
        invoices.tenant_id,
        invoices.invoice_id,
        invoices.job_id,
        invoices.business_unit_id,
        invoices.customer_id
    from invoices

),

with_original as (

    select
        invoices.*,
        coalesce(invoices.job_id, originals.job_id) as attributed_job_id,
        coalesce(invoices.business_unit_id, originals.business_unit_id)
            as attributed_business_unit_id,
        coalesce(invoices.customer_id, originals.customer_id) as attributed_customer_id
    from invoices
    {{ join_within_tenant('invoices', 'originals', 'adjustment_to_invoice_id', 'invoice_id') }}

),

enriched as (

    select
        with_original.*,
        coalesce(customer_merges.surviving_customer_id, with_original.attributed_customer_id)
            as surviving_customer_id,
        cast(with_original.total - coalesce(with_original.sales_tax, 0) as decimal(18, 2))
            as revenue,
        with_original.is_active as is_revenue,
        coalesce(with_original.invoice_date, {{ st_utc_date('with_original.created_at') }})
            as revenue_date
    from with_original
    {{ join_within_tenant(
        'with_original', 'customer_merges', 'attributed_customer_id', 'customer_id'
    ) }}

)

select * from enriched
