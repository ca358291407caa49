{#
    Customer lifetime value: one row per customer that survives merges, with everything it (and
    every customer merged into it) was invoiced, paid and owes.

    Merged customers: ServiceTitan keeps a merged-away customer as an inactive record with
    `mergedToId`, and its old invoices, jobs and payments still point at it. Here their history is
    rolled up into the surviving customer (following chains of merges), and merged-away
    customers get no row of their own; `merged_customer_count` says how many were folded in.

    Revenue counts active invoices (pre-tax), adjustments included; inactive invoices are
    voided. Payments count active payments, refunds netted. Average ticket = revenue of completed
    jobs / completed jobs, the same definition as the technician and daily reports.
#}

with

customers as (

    select * from {{ ref('dim_customers') }}

),

survivors as (

    select * from customers
    where customer_id = surviving_customer_id

),

merged_in as (

    select
        tenant_id,
        surviving_customer_id as customer_id,
        count(*) as merged_customer_count
    from customers
    where customer_id <> surviving_customer_id
    group by 1, 2

),

invoices as (

    select
        tenant_id,
        surviving_customer_id as customer_id,
        {{ invoice_count() }} as invoice_count,
        cast(sum(revenue) as decimal(18, 2)) as lifetime_revenue,
        cast(sum(total) as decimal(18, 2)) as lifetime_total_invoiced,
        cast(sum(balance) as decimal(18, 2)) as open_balance,
        min(revenue_date) filter (where total <> 0) as first_invoice_date,
        max(revenue_date) filter (where total <> 0) as last_invoice_date
    from {{ ref('fct_invoices') }}
    where is_revenue
    group by 1, 2

),

jobs as (

    select
        tenant_id,
        surviving_customer_id as customer_id,
        count(*) as completed_jobs,
        cast(sum(revenue) as decimal(18, 2)) as completed_job_revenue,
        min(completed_date) as first_completed_date,
        max(completed_date) as last_completed_date
    from {{ ref('fct_jobs') }}
    where is_completed
    group by 1, 2

),

payments as (

    select
        tenant_id,
        surviving_customer_id as customer_id,
        cast(sum(total) as decimal(18, 2)) as lifetime_payments
    from {{ ref('fct_payments') }}
    where is_active
    group by 1, 2

),

final as (

    select
        survivors.tenant_id,
        survivors.customer_id,
        survivors.customer_name,
        survivors.customer_type,
        survivors.is_active,
        coalesce(merged_in.merged_customer_count, 0) as merged_customer_count,
        survivors.created_at as customer_created_at,
        invoices.first_invoice_date,
        invoices.last_invoice_date,
        coalesce(invoices.invoice_count, 0) as invoice_count,
        coalesce(jobs.completed_jobs, 0) as completed_jobs,
        coalesce(invoices.lifetime_revenue, 0) as lifetime_revenue,
        coalesce(invoices.lifetime_total_invoiced, 0) as lifetime_total_invoiced,
        coalesce(payments.lifetime_payments, 0) as lifetime_payments,
        coalesce(invoices.open_balance, 0) as open_balance,
        {{ money_divide('jobs.completed_job_revenue', 'jobs.completed_jobs') }} as average_ticket,
        invoices.last_invoice_date - invoices.first_invoice_date as active_span_days
    from survivors
    {{ join_within_tenant('survivors', 'merged_in', 'customer_id') }}
    {{ join_within_tenant('survivors', 'invoices', 'customer_id') }}
    {{ join_within_tenant('survivors', 'jobs', 'customer_id') }}
    {{ join_within_tenant('survivors', 'payments', 'customer_id') }}

)

{{ select_with_connection_name('final') }}
