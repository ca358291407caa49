{#
    Reconciliation: fct_invoices holds every raw invoice exactly once, and its totals add up to
    the raw layer's to the cent, per tenant and per active/inactive, computed independently here
    straight from the raw JSON (no staging model in between). Catches a join fanning out or
    dropping invoices, and any drift in parsing money. Returns the mismatching groups.
#}
{{ config(meta={'dagster': {'ref': {'name': 'fct_invoices'}}}) }}

with

raw_invoices as (

    select
        _tenant_id as tenant_id,
        active as is_active,
        count(*) as invoice_count,
        sum(cast(payload ->> '$.total' as decimal(18, 2))) as total,
        sum(cast(payload ->> '$.balance' as decimal(18, 2))) as balance
    from {{ source('servicetitan', 'invoices') }}
    group by 1, 2

),

mart_invoices as (

    select
        tenant_id,
        is_active,
        count(*) as invoice_count,
        sum(total) as total,
        sum(balance) as balance
    from {{ ref('fct_invoices') }}
    group by 1, 2

)

select
    coalesce(raw_invoices.tenant_id, mart_invoices.tenant_id) as tenant_id,
    coalesce(raw_invoices.is_active, mart_invoices.is_active) as is_active,
    raw_invoices.invoice_count as raw_invoice_count,
    mart_invoices.invoice_count as mart_invoice_count,
    raw_invoices.total as raw_total,
    mart_invoices.total as mart_total,
    raw_invoices.balance as raw_balance,
    mart_invoices.balance as mart_balance
from raw_invoices
full outer join mart_invoices
    on raw_invoices.tenant_id = mart_invoices.tenant_id
    and raw_invoices.is_active is not distinct from mart_invoices.is_active
where raw_invoices.invoice_count is distinct from mart_invoices.invoice_count
    or raw_invoices.total is distinct from mart_invoices.total
    or raw_invoices.balance is distinct from mart_invoices.balance
