{#
    Reconciliation: the labour-cost report accounts, per tenant and month (UTC), for every
    active gross pay item that is not a reimbursement and every active payroll adjustment of a
    type that is pay, to the cent, computed here from the raw records (not
    from staging, so that building the staging layer alone does not select this test); its revenue is the
    invoice-date revenue report's; and labour cost is gross pay plus adjustments on every row.
    Returns what disagrees.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_labour_cost_share'}}}) }}

with

pay_items as (

    select
        _tenant_id as tenant_id,
        cast(
            date_trunc('month', timezone('UTC', {{ st_timestamp("payload ->> '$.date'") }}))
            as date
        ) as report_month,
        {{ st_money("payload ->> '$.amount'") }} as amount
    from {{ source('servicetitan', 'gross_pay_items') }}
    where
        active
        and (payload ->> '$.date') is not null
        and coalesce(payload ->> '$.grossPayItemType', '') <> 'Reimbursement'

),

adjustments as (

    select
        _tenant_id as tenant_id,
        cast(
            date_trunc('month', timezone('UTC', {{ st_timestamp("payload ->> '$.postedOn'") }}))
            as date
        ) as report_month,
        {{ st_money("payload ->> '$.amount'") }} as amount
    from {{ source('servicetitan', 'payroll_adjustments') }}
    where
        active
        and (payload ->> '$.postedOn') is not null
        and coalesce(payload ->> '$.type', 'Direct')
        not in ('Advance', 'SoldAdvance', 'CommissionBased')

),

revenue as (

    select
        tenant_id,
        revenue_month as report_month,
        revenue
    from {{ ref('rpt_revenue_by_month_business_unit') }}

),

expected_amounts as (

    select
        tenant_id,
        report_month,
        'gross_pay' as measure,
        amount
    from pay_items
    union all
    select
        tenant_id,
        report_month,
        'payroll_adjustments' as measure,
        amount
    from adjustments
    union all
    select
        tenant_id,
        report_month,
        'revenue' as measure,
        revenue as amount
    from revenue

),

expected as (

    select
        tenant_id,
        report_month,
        measure,
        cast(coalesce(sum(amount), 0) as decimal(18, 2)) as amount
    from expected_amounts
    group by tenant_id, report_month, measure

),

report as (

    select * from {{ ref('rpt_labour_cost_share') }}

),

reported as (

    select
        tenant_id,
        report_month,
        measure,
        cast(sum(amount) as decimal(18, 2)) as amount
    from (
        select
            tenant_id,
            report_month,
            'gross_pay' as measure,
            gross_pay as amount
        from report
        union all
        select
            tenant_id,
            report_month,
            'payroll_adjustments' as measure,
            payroll_adjustments as amount
        from report
        union all
        select
            tenant_id,
            report_month,
            'revenue' as measure,
            revenue as amount
        from report
    ) as measures
    group by tenant_id, report_month, measure

),

total_mismatches as (

    select
        coalesce(expected.tenant_id, reported.tenant_id) as tenant_id,
        coalesce(expected.report_month, reported.report_month) as report_month,
        coalesce(expected.measure, reported.measure) as measure,
        expected.amount as expected_amount,
        reported.amount as reported_amount
    from expected
    full outer join reported
        on
        expected.tenant_id = reported.tenant_id
        and expected.report_month = reported.report_month
        and expected.measure = reported.measure
    where coalesce(expected.amount, 0) <> coalesce(reported.amount, 0)

),

row_mismatches as (

    select
        tenant_id,
        report_month,
        'labour_cost of business unit ' || coalesce(cast(business_unit_id as varchar), 'none')
            as measure,
        gross_pay + payroll_adjustments as expected_amount,
        labour_cost as reported_amount
    from report
    where labour_cost <> gross_pay + payroll_adjustments

)

select * from total_mismatches
union all
select * from row_mismatches
