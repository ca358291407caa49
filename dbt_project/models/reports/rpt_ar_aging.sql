{#
    Accounts receivable aging: the open balance of each customer (after merges) split by how many
    days past due the invoices are.

    As-of date: the UTC date of the tenant's latest invoice load (`max(_loaded_at)`), i.e. the day
    the balances were read from ServiceTitan, so the aging always matches the balances it ages
    and a rebuild on the same data gives the same answer. Override with
    `dbt build --vars '{ar_as_of_date: "2026-11-01"}'` or SERVICETITAN_AR_AS_OF_DATE=2026-11-01
    (e.g. to age the simulator's data at its simulated date rather than the day it was loaded).

    Counts active invoices with a non-zero `balance` (ServiceTitan's own open balance, payments
    and credits already applied); inactive invoices are voided and owe nothing. Adjustment
    invoices count like any other (a credit adjustment has a negative balance and reduces its
    bucket). Days past due = as-of date - due date (the invoice date when there is no due date);
    `current` = not yet due.
#}

with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

as_of as (

    {{ ar_as_of_dates('invoices') }}

),

open_invoices as (

    select
        invoices.tenant_id,
        invoices.surviving_customer_id as customer_id,
        invoices.invoice_id,
        invoices.customer_name as invoice_customer_name,
        invoices.balance,
        coalesce(invoices.due_date, invoices.revenue_date) as effective_due_date,
        as_of.as_of_date,
        as_of.as_of_date - coalesce(invoices.due_date, invoices.revenue_date) as days_past_due
    from invoices
    inner join as_of
        on invoices.tenant_id = as_of.tenant_id
    where invoices.is_active
        and invoices.balance <> 0

),

per_customer as (

    select
        tenant_id,
        customer_id,
        as_of_date,
        any_value(invoice_customer_name) as invoice_customer_name,
        count(*) as open_invoice_count,
        cast(sum(balance) as decimal(18, 2)) as open_balance,
        {{ money_total('balance', 'days_past_due <= 0') }} as current_balance,
        {{ money_total('balance', 'days_past_due between 1 and 30') }} as past_due_1_30,
        {{ money_total('balance', 'days_past_due between 31 and 60') }} as past_due_31_60,
        {{ money_total('balance', 'days_past_due between 61 and 90') }} as past_due_61_90,
        {{ money_total('balance', 'days_past_due > 90') }} as past_due_over_90,
        min(effective_due_date) as oldest_due_date,
        max(days_past_due) as max_days_past_due
    from open_invoices
    group by tenant_id, customer_id, as_of_date

),

final as (

    select
        per_customer.tenant_id,
        per_customer.customer_id,
        coalesce(customers.customer_name, per_customer.invoice_customer_name) as customer_name,
        customers.customer_type,
        customers.is_active as is_customer_active,
        per_customer.as_of_date,
        per_customer.open_invoice_count,
        per_customer.open_balance,
        per_customer.current_balance,
        per_customer.past_due_1_30,
        per_customer.past_due_31_60,
        per_customer.past_due_61_90,
        per_customer.past_due_over_90,
        per_customer.oldest_due_date,
        greatest(per_customer.max_days_past_due, 0) as max_days_past_due
    from per_customer
    {{ join_within_tenant('per_customer', 'customers', 'customer_id') }}

)

{{ select_with_connection_name('final') }}
