{#
    Reconciliation: rpt_sales_conversion counts every completed job once per dimension. Per
    tenant and month, each dimension's rows add up to fct_jobs' completed jobs and their
    revenue, and to int_job_outcomes' opportunities, converted jobs, sales opportunities and
    won jobs; within each row the counts nest (converted <= opportunities <= completed, won <=
    sales opportunities <= opportunities) and average ticket is revenue / jobs to the cent.
    Returns what disagrees.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_sales_conversion'}}}) }}

with

jobs as (

    select
        tenant_id,
        cast(date_trunc('month', completed_date) as date) as completed_month,
        count(*) as completed_jobs,
        sum(revenue) as completed_revenue
    from {{ ref('fct_jobs') }}
    where is_completed
    group by 1, 2

),

outcomes as (

    select
        tenant_id,
        completed_month,
        count(*) filter (where is_opportunity) as opportunities,
        count(*) filter (where is_converted) as converted_jobs,
        count(*) filter (where is_sales_opportunity) as sales_opportunities,
        count(*) filter (where is_sales_won) as sales_won
    from {{ ref('int_job_outcomes') }}
    where is_completed
    group by 1, 2

),

dimensions as (

    select unnest(['company', 'business_unit', 'technician']) as dimension

),

expected as (

    select
        jobs.tenant_id,
        jobs.completed_month,
        dimensions.dimension,
        jobs.completed_jobs,
        jobs.completed_revenue,
        outcomes.opportunities,
        outcomes.converted_jobs,
        outcomes.sales_opportunities,
        outcomes.sales_won
    from jobs
    inner join outcomes
        on jobs.tenant_id = outcomes.tenant_id
        and jobs.completed_month is not distinct from outcomes.completed_month
    cross join dimensions

),

report as (

    select * from {{ ref('rpt_sales_conversion') }}

),

reported as (

    select
        tenant_id,
        completed_month,
        dimension,
        sum(completed_jobs) as completed_jobs,
        sum(completed_revenue) as completed_revenue,
        sum(opportunities) as opportunities,
        sum(converted_jobs) as converted_jobs,
        sum(sales_opportunities) as sales_opportunities,
        sum(sales_won) as sales_won,
        count(*) filter (
            where converted_jobs > opportunities
            or opportunities > completed_jobs
            or sales_won > sales_opportunities
            or sales_opportunities > opportunities
            or average_ticket
            is distinct from {{ money_divide('completed_revenue', 'completed_jobs') }}
        ) as inconsistent_rows
    from report
    group by 1, 2, 3

)

select
    coalesce(reported.tenant_id, expected.tenant_id) as tenant_id,
    coalesce(reported.completed_month, expected.completed_month) as completed_month,
    coalesce(reported.dimension, expected.dimension) as dimension,
    expected.completed_jobs as expected_completed_jobs,
    reported.completed_jobs as reported_completed_jobs,
    expected.completed_revenue as expected_completed_revenue,
    reported.completed_revenue as reported_completed_revenue,
    expected.opportunities as expected_opportunities,
    reported.opportunities as reported_opportunities,
    expected.converted_jobs as expected_converted_jobs,
    reported.converted_jobs as reported_converted_jobs,
    expected.sales_opportunities as expected_sales_opportunities,
    reported.sales_opportunities as reported_sales_opportunities,
    expected.sales_won as expected_sales_won,
    reported.sales_won as reported_sales_won,
    reported.inconsistent_rows
from reported
full outer join expected
    on reported.tenant_id = expected.tenant_id
    and reported.completed_month is not distinct from expected.completed_month
    and reported.dimension = expected.dimension
where reported.completed_jobs is distinct from expected.completed_jobs
    or reported.completed_revenue is distinct from expected.completed_revenue
    or reported.opportunities is distinct from expected.opportunities
    or reported.converted_jobs is distinct from expected.converted_jobs
    or reported.sales_opportunities is distinct from expected.sales_opportunities
    or reported.sales_won is distinct from expected.sales_won
    or reported.inconsistent_rows > 0
