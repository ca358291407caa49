{#
    One row per job (of stg_servicetitan__jobs): what ServiceTitan's dashboard and scorecards decide about it (opportunity,
    converted, sales opportunity, won), decided once here so every KPI counts the same jobs.
    The definitions, from ServiceTitan's help pages ("What's a sold threshold?", "Mark jobs as
    no charge or non-opportunity by default", "Use the mobile scorecard", "Understanding
    ServiceTitan Vocabulary: Sales"), are in _intermediate__models.yml.
#}

with

jobs as (

    select * from {{ ref('stg_servicetitan__jobs') }}

),

customer_merges as (

    select * from {{ ref('int_customers__merge_resolved') }}

),

job_revenue as (

    select * from {{ ref('int_jobs__revenue') }}

),

job_types as (

    select * from {{ ref('stg_servicetitan__job_types') }}

),

estimates as (

    select * from {{ ref('stg_servicetitan__estimates') }}
    where is_active

),

job_estimates as (

    select
        tenant_id,
        job_id,
        count(*) as estimate_count,
        count(*) filter (where estimate_status = 'Sold') as sold_estimate_count,
        {{ money_total('subtotal') }} as estimated_subtotal,
        {{ money_total('subtotal', "estimate_status = 'Sold'") }} as sold_estimate_subtotal,
        min(sold_at) filter (where estimate_status = 'Sold') as first_sold_at
    from estimates
    where job_id is not null
    group by tenant_id, job_id

),

decided as (

    select
        jobs.tenant_id,
        jobs.job_id,
        jobs.business_unit_id,
        jobs.job_type_id,
        jobs.campaign_id,
        coalesce(customer_merges.surviving_customer_id, jobs.customer_id) as surviving_customer_id,
        jobs.sold_by_technician_id,
        jobs.recall_for_job_id,
        -- as fct_jobs decides them
        jobs.job_status = 'Completed' and jobs.is_active as is_completed,
        jobs.job_status = 'Canceled' and jobs.is_active as is_canceled,
        {{ st_utc_date('jobs.completed_at') }} as completed_date,
        cast(
            date_trunc('month', {{ st_utc_date('jobs.completed_at') }}) as date
        ) as completed_month,
        coalesce(jobs.is_no_charge, false) as is_no_charge,
        jobs.recall_for_job_id is not null as is_recall,
        coalesce(job_types.sold_threshold, 0) as sold_threshold,
        -- the job's invoice subtotal: pre-tax revenue of its active invoices, adjustments in
        coalesce(job_revenue.revenue, 0) as invoice_subtotal,
        coalesce(job_estimates.estimate_count, 0) as estimate_count,
        coalesce(job_estimates.sold_estimate_count, 0) as sold_estimate_count,
        coalesce(job_estimates.estimated_subtotal, 0) as estimated_subtotal,
        coalesce(job_estimates.sold_estimate_subtotal, 0) as sold_estimate_subtotal,
        job_estimates.first_sold_at
    from jobs
    {{ join_within_tenant('jobs', 'customer_merges', 'customer_id') }}
    {{ join_within_tenant('jobs', 'job_revenue', 'job_id') }}
    {{ join_within_tenant('jobs', 'job_types', 'job_type_id') }}
    {{ join_within_tenant('jobs', 'job_estimates', 'job_id') }}

),

reached as (

    select
        *,
        -- the job's money reached its sold threshold, by its invoice or by its sold estimates:
        -- what lifts a No Charge job back among the opportunities
        greatest(invoice_subtotal, sold_estimate_subtotal) >= sold_threshold
            as is_threshold_reached
    from decided

),

final as (

    select
        * exclude (is_threshold_reached),
        -- converted: by the invoice subtotal alone ("Converted job" in "What's a sold
        -- threshold?"); sold estimates that were never invoiced do not convert a job
        is_completed and invoice_subtotal >= sold_threshold as is_converted,
        is_completed and (not is_no_charge or is_threshold_reached) as is_opportunity,
        -- a sales opportunity is an opportunity on which estimates were presented: a No Charge
        -- job with estimates is one only once it reached the threshold, as for conversion
        is_completed
        and (not is_no_charge or is_threshold_reached)
        and estimate_count > 0 as is_sales_opportunity,
        is_completed
        and (not is_no_charge or is_threshold_reached)
        and sold_estimate_count > 0
        and sold_estimate_subtotal >= sold_threshold as is_sales_won
    from reached

)

select * from final
