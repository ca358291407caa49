{#
    Reconciliation: rpt_revenue_servicetitan adds up, per tenant, month and kind of revenue, to
    the income items of the invoices it claims to count, computed here from the marts
    (fct_invoice_items, fct_invoices, fct_jobs) and the raw accounts: active items on active
    invoices on an income (or unknown) account; a job's invoice on the job's completion month
    once completed, non-job and adjustment invoices on their invoice month. Also each row's
    total_revenue is the sum of its three parts. Returns what disagrees, to the cent.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_revenue_servicetitan'}}}) }}

with

items as (

    select * from {{ ref('fct_invoice_items') }}
    where is_active and is_invoice_active

),

-- the account types straight from the raw JSON, so this check does not lean on the staging
-- models that the report's intermediate reads (and runs only when the report is built)
item_accounts as (

    select
        _tenant_id as tenant_id,
        id as invoice_item_id,
        cast(payload ->> '$.generalLedgerAccount.id' as bigint) as general_ledger_account_id,
        payload ->> '$.generalLedgerAccount.type' as general_ledger_account_type
    from {{ source('servicetitan', 'invoice_items') }}

),

gl_accounts as (

    select
        _tenant_id as tenant_id,
        id as gl_account_id,
        payload ->> '$.type' as gl_account_type
    from {{ source('servicetitan', 'gl_accounts') }}

),

invoices as (

    select * from {{ ref('fct_invoices') }}

),

jobs as (

    select * from {{ ref('fct_jobs') }}

),

typed as (

    select
        items.tenant_id,
        items.total,
        invoices.job_id as own_job_id,
        items.is_invoice_adjustment,
        items.revenue_date as invoice_revenue_date,
        jobs.is_completed as is_job_completed,
        jobs.completed_date,
        coalesce(item_accounts.general_ledger_account_type, gl_accounts.gl_account_type)
            as account_type
    from items
    inner join item_accounts
        on items.tenant_id = item_accounts.tenant_id
        and items.invoice_item_id = item_accounts.invoice_item_id
    inner join invoices
        on items.tenant_id = invoices.tenant_id
        and items.invoice_id = invoices.invoice_id
    left join gl_accounts
        on item_accounts.tenant_id = gl_accounts.tenant_id
        and item_accounts.general_ledger_account_id = gl_accounts.gl_account_id
    left join jobs
        on invoices.tenant_id = jobs.tenant_id
        and invoices.job_id = jobs.job_id

),

expected as (

    select
        tenant_id,
        case
            when is_invoice_adjustment then 'adjustment'
            when own_job_id is null then 'non_job'
            else 'completed_job'
        end as kind,
        cast(date_trunc('month', case
            when not is_invoice_adjustment and own_job_id is not null then completed_date
            else invoice_revenue_date
        end) as date) as revenue_month,
        sum(total) as revenue,
        sum(total) filter (where account_type is null) as unmapped
    from typed
    where (account_type is null or lower(trim(account_type)) in ('income', 'other income'))
        and (is_invoice_adjustment or own_job_id is null or coalesce(is_job_completed, false))
    group by 1, 2, 3

),

expected_by_month as (

    select
        tenant_id,
        revenue_month,
        coalesce(sum(revenue) filter (where kind = 'completed_job'), 0) as completed_job_revenue,
        coalesce(sum(revenue) filter (where kind = 'non_job'), 0) as non_job_revenue,
        coalesce(sum(revenue) filter (where kind = 'adjustment'), 0) as adjustment_revenue,
        coalesce(sum(unmapped), 0) as unmapped_revenue
    from expected
    group by 1, 2

),

reported_by_month as (

    select
        tenant_id,
        revenue_month,
        sum(completed_job_revenue) as completed_job_revenue,
        sum(non_job_revenue) as non_job_revenue,
        sum(adjustment_revenue) as adjustment_revenue,
        sum(unmapped_revenue) as unmapped_revenue,
        sum(total_revenue) as total_revenue,
        count(*) filter (
            where total_revenue
            <> completed_job_revenue + non_job_revenue + adjustment_revenue
        ) as rows_not_adding_up
    from {{ ref('rpt_revenue_servicetitan') }}
    group by 1, 2

)

select
    coalesce(reported.tenant_id, expected.tenant_id) as tenant_id,
    coalesce(reported.revenue_month, expected.revenue_month) as revenue_month,
    expected.completed_job_revenue as expected_completed_job_revenue,
    reported.completed_job_revenue as reported_completed_job_revenue,
    expected.non_job_revenue as expected_non_job_revenue,
    reported.non_job_revenue as reported_non_job_revenue,
    expected.adjustment_revenue as expected_adjustment_revenue,
    reported.adjustment_revenue as reported_adjustment_revenue,
    expected.unmapped_revenue as expected_unmapped_revenue,
    reported.unmapped_revenue as reported_unmapped_revenue,
    reported.rows_not_adding_up
from reported_by_month as reported
full outer join expected_by_month as expected
    on reported.tenant_id = expected.tenant_id
    and reported.revenue_month is not distinct from expected.revenue_month
where reported.completed_job_revenue is distinct from expected.completed_job_revenue
    or reported.non_job_revenue is distinct from expected.non_job_revenue
    or reported.adjustment_revenue is distinct from expected.adjustment_revenue
    or reported.unmapped_revenue is distinct from expected.unmapped_revenue
    or reported.rows_not_adding_up > 0
