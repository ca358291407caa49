{#
    Every invoice item with what ServiceTitan's dashboard decides about it as revenue, decided
    once here for rpt_revenue_servicetitan (and the Reporting API comparison that reads it):

    * Counted items: active items on active invoices (inactive ones were deleted or voided).
    * Income: the item's general ledger account is an income account. The item carries its
      account's type (`generalLedgerAccount.type`); when it does not, the account is looked up
      in gl_accounts. An item whose account is unknown (no account, or one not loaded, or one
      without a type) still counts, as ServiceTitan sells it as revenue unless told otherwise,
      and is flagged `is_unmapped` so the report shows how much of revenue rests on it.
    * Pre-tax: the item's `total` (sales tax is on the invoice, not on an item).
    * Dated: an invoice of a job that is not an adjustment counts on the job's completion date
      (UTC) and only once the job is completed (an invoice of an open or canceled job is not
      revenue yet); a non-job invoice and an adjustment invoice count on the invoice date
      (its creation date while it has none, as int_invoices__enriched dates it).
    * Business unit: the invoice's (an adjustment without one inherits the original's, as
      int_invoices__enriched decides).
#}

with

items as (

    select * from {{ ref('stg_servicetitan__invoice_items') }}

),

invoices as (

    select * from {{ ref('int_invoices__enriched') }}

),

gl_accounts as (

    select * from {{ ref('stg_servicetitan__gl_accounts') }}

),

job_outcomes as (

    select * from {{ ref('int_job_outcomes') }}

),

classified as (

    select
        items.tenant_id,
        items.invoice_item_id,
        items.invoice_id,
        invoices.job_id as invoice_job_id,
        invoices.attributed_business_unit_id as business_unit_id,
        invoices.business_unit_name as invoice_business_unit_name,
        items.general_ledger_account_id,
        coalesce(items.general_ledger_account_type, gl_accounts.gl_account_type)
            as general_ledger_account_type,
        items.total,
        coalesce(items.is_active, true) and coalesce(invoices.is_active, false) as is_counted,
        coalesce(invoices.is_adjustment, false) as is_adjustment,
        invoices.revenue_date as invoice_revenue_date,
        job_outcomes.is_completed as is_job_completed,
        job_outcomes.completed_date as job_completed_date
    from items
    {{ join_within_tenant('items', 'invoices', 'invoice_id') }}
    {{ join_within_tenant('items', 'gl_accounts', 'general_ledger_account_id', 'gl_account_id') }}
    -- the invoice's own job: an adjustment is dated by its own invoice date, whatever its job
    {{ join_within_tenant('invoices', 'job_outcomes', 'job_id') }}

),

decided as (

    select
        *,
        case
            when is_adjustment then 'adjustment'
            when invoice_job_id is null then 'non_job'
            else 'completed_job'
        end as revenue_kind,
        general_ledger_account_type is null as is_unmapped,
        -- ServiceTitan's income account types (its own "Income", and QuickBooks' "Other
        -- Income" for accounts synced from it); every other type (Liability for deposits,
        -- assets, expenses) is not revenue
        coalesce(
            lower(trim(general_ledger_account_type)) in ('income', 'other income'), true
        ) as is_income
    from classified

),

final as (

    select
        *,
        case
            when revenue_kind = 'completed_job' then job_completed_date
            else invoice_revenue_date
        end as revenue_date,
        is_counted
        and is_income
        and (revenue_kind <> 'completed_job' or coalesce(is_job_completed, false))
            as is_revenue
    from decided

)

select * from final
