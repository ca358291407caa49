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

merges as (

    select * from {{ ref('int_customers__merge_resolved') }}

),

with_original as (

    select
        invoices.*,
        coalesce(invoices.job_id, original.job_id) as attributed_job_id,
        coalesce(invoices.business_unit_id, original.business_unit_id)
            as attributed_business_unit_id,
        coalesce(invoices.customer_id, original.customer_id) as attributed_customer_id
    from invoices
    left join invoices as original
        on invoices.tenant_id = original.tenant_id
        and invoices.adjustment_to_invoice_id = original.invoice_id

),

enriched as (

    select
        with_original.*,
        coalesce(merges.surviving_customer_id, with_original.attributed_customer_id)
            as surviving_customer_id,
        cast(with_original.total - coalesce(with_original.sales_tax, 0) as decimal(18, 2)) as revenue,
        with_original.is_active as is_revenue,
        coalesce(with_original.invoice_date, {{ st_utc_date('with_original.created_at') }})
            as revenue_date
    from with_original
    left join merges
        on with_original.tenant_id = merges.tenant_id
        and with_original.attributed_customer_id = merges.customer_id

)

select * from enriched
