{#
    Reconciliation: for every active invoice that has line items, the active items' totals plus
    the sales tax equal the invoice total within one cent (ServiceTitan rounds tax per invoice,
    so a cent of difference is legitimate; more means lost, duplicated or mis-parsed items).
    Invoices with no item rows at all are not judged here: an invoice can legitimately have none
    (e.g. a zero invoice), and its items may be one sync behind. Returns the invoices that fail.
#}
{{ config(meta={'dagster': {'ref': {'name': 'fct_invoices'}}}) }}

with

items as (

    select
        tenant_id,
        invoice_id,
        sum(total) as items_total
    from {{ ref('fct_invoice_items') }}
    where is_active
    group by 1, 2

)

select
    invoices.tenant_id,
    invoices.invoice_id,
    invoices.total,
    invoices.sales_tax,
    items.items_total,
    items.items_total + coalesce(invoices.sales_tax, 0) - invoices.total as difference
from {{ ref('fct_invoices') }} as invoices
inner join items
    on invoices.tenant_id = items.tenant_id
    and invoices.invoice_id = items.invoice_id
where invoices.is_active
    and abs(items.items_total + coalesce(invoices.sales_tax, 0) - invoices.total) > 0.01
