{#
    Reconciliation: in rpt_ar_aging each customer's buckets add up to its open balance, and the
    report's total open balance equals the balance of all active invoices in fct_invoices, per
    tenant. Returns the offending customers / tenants.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_ar_aging'}}}) }}

with

bucket_mismatches as (

    select
        tenant_id,
        customer_id,
        'buckets do not add up to open_balance' as problem
    from {{ ref('rpt_ar_aging') }}
    where current_balance + past_due_1_30 + past_due_31_60 + past_due_61_90 + past_due_over_90
        <> open_balance

),

expected as (

    select
        tenant_id,
        sum(balance) as open_balance
    from {{ ref('fct_invoices') }}
    where is_active
    group by 1

),

reported as (

    select
        tenant_id,
        sum(open_balance) as open_balance
    from {{ ref('rpt_ar_aging') }}
    group by 1

),

total_mismatches as (

    select
        coalesce(expected.tenant_id, reported.tenant_id) as tenant_id,
        cast(null as bigint) as customer_id,
        'total open balance differs from active invoices' as problem
    from expected
    full outer join reported
        on expected.tenant_id = reported.tenant_id
    -- a tenant whose invoices are all paid has no aging rows at all: that is a zero balance
    where coalesce(expected.open_balance, 0) <> coalesce(reported.open_balance, 0)

)

select * from bucket_mismatches
union all
select * from total_mismatches
