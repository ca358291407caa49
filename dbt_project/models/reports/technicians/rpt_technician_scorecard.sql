{#
    The technician scorecard by month (UTC) and technician, as ServiceTitan's Technician
    Scorecards and Technician Dashboard count it. Every column's definition, and the help
    pages it follows, are in _technicians__reports.yml.
#}

with

credits as (

    select * from {{ ref('int_job_technician_credits') }}

),

job_outcomes as (

    select * from {{ ref('int_job_outcomes') }}

),

estimates as (

    select * from {{ ref('stg_servicetitan__estimates') }}
    where is_active

),

memberships as (

    select * from {{ ref('stg_servicetitan__memberships') }}

),

timesheets as (

    select * from {{ ref('fct_job_timesheets') }}
    where is_counted_as_worked

),

technicians as (

    select * from {{ ref('dim_technicians') }}

),

-- completed jobs, revenue, opportunities and conversions: the job's credited technicians
job_metrics as (

    select
        tenant_id,
        completed_month as scorecard_month,
        technician_id,
        count(*) as completed_jobs,
        count(*) filter (where is_opportunity) as opportunities,
        count(*) filter (where is_opportunity and is_converted) as converted_jobs,
        {{ money_total('credited_subtotal') }} as split_revenue
    from credits
    where is_completed
    group by tenant_id, completed_month, technician_id

),

-- who sold on a sales opportunity: the `soldBy` of its estimates (only the sold-by
-- technician gets credit for a sale, splits do not share it); a sales opportunity none of
-- whose estimates names a seller stays with the job's credited technicians
estimate_sellers as (

    select distinct
        estimates.tenant_id,
        estimates.job_id,
        estimates.sold_by_technician_id as technician_id
    from estimates
    where estimates.sold_by_technician_id is not null and estimates.job_id is not null

),

sales_opportunities as (

    select
        tenant_id,
        job_id,
        completed_month,
        is_sales_won
    from job_outcomes
    where is_sales_opportunity

),

sales_credits as (

    select
        sales_opportunities.tenant_id,
        sales_opportunities.completed_month,
        estimate_sellers.technician_id,
        sales_opportunities.is_sales_won
    from sales_opportunities
    {{ join_within_tenant('sales_opportunities', 'estimate_sellers', 'job_id', join_type='inner') }}
    union all
    select
        sales_opportunities.tenant_id,
        sales_opportunities.completed_month,
        credits.technician_id,
        sales_opportunities.is_sales_won
    from sales_opportunities
    {{ join_within_tenant('sales_opportunities', 'credits', 'job_id', join_type='inner') }}
    {{ join_within_tenant('sales_opportunities', 'estimate_sellers', 'job_id') }}
    where estimate_sellers.job_id is null

),

sales_metrics as (

    select
        tenant_id,
        completed_month as scorecard_month,
        technician_id,
        count(*) as sales_opportunities,
        count(*) filter (where is_sales_won) as sales_won
    from sales_credits
    group by tenant_id, completed_month, technician_id

),

-- a renewal term is a new membership record whose predecessor points to it: not a sale
renewal_terms as (

    select distinct
        tenant_id,
        renewed_by_membership_id as membership_id
    from memberships
    where renewed_by_membership_id is not null

),

membership_metrics as (

    select
        memberships.tenant_id,
        cast(date_trunc('month', memberships.start_date) as date) as scorecard_month,
        memberships.sold_by_id as technician_id,
        count(*) as memberships_sold
    from memberships
    {{ join_within_tenant('memberships', 'renewal_terms', 'membership_id') }}
    {{ join_within_tenant('memberships', 'technicians', 'sold_by_id', 'technician_id', 'inner') }}
    where
        memberships.is_active
        and memberships.start_date is not null
        and renewal_terms.membership_id is null
    group by
        memberships.tenant_id,
        cast(date_trunc('month', memberships.start_date) as date),
        memberships.sold_by_id

),

-- a completed recall job counts against the technicians credited with the job it recalls
recalls as (

    select
        tenant_id,
        job_id,
        recall_for_job_id,
        completed_month
    from job_outcomes
    where is_recall and is_completed

),

recall_metrics as (

    select
        recalls.tenant_id,
        recalls.completed_month as scorecard_month,
        original_credits.technician_id,
        count(*) as recalls_caused
    from recalls
    inner join credits as original_credits
        on
        recalls.tenant_id = original_credits.tenant_id
        and recalls.recall_for_job_id = original_credits.job_id
    group by recalls.tenant_id, recalls.completed_month, original_credits.technician_id

),

hours_metrics as (

    select
        tenant_id,
        work_month as scorecard_month,
        technician_id,
        sum(worked_microseconds) as worked_microseconds
    from timesheets
    where technician_id is not null
    group by tenant_id, work_month, technician_id

),

scorecard_keys as (

    select
        tenant_id,
        scorecard_month,
        technician_id
    from job_metrics
    union
    select
        tenant_id,
        scorecard_month,
        technician_id
    from sales_metrics
    union
    select
        tenant_id,
        scorecard_month,
        technician_id
    from membership_metrics
    union
    select
        tenant_id,
        scorecard_month,
        technician_id
    from recall_metrics
    union
    select
        tenant_id,
        scorecard_month,
        technician_id
    from hours_metrics

),

combined as (

    select
        scorecard_keys.tenant_id,
        scorecard_keys.scorecard_month,
        scorecard_keys.technician_id,
        coalesce(job_metrics.completed_jobs, 0) as completed_jobs,
        coalesce(job_metrics.opportunities, 0) as opportunities,
        coalesce(job_metrics.converted_jobs, 0) as converted_jobs,
        coalesce(sales_metrics.sales_opportunities, 0) as sales_opportunities,
        coalesce(sales_metrics.sales_won, 0) as sales_won,
        coalesce(job_metrics.split_revenue, cast(0 as decimal(18, 2))) as split_revenue,
        coalesce(membership_metrics.memberships_sold, 0) as memberships_sold,
        coalesce(recall_metrics.recalls_caused, 0) as recalls_caused,
        coalesce(hours_metrics.worked_microseconds, 0) as worked_microseconds
    from scorecard_keys
    left join job_metrics
        on
        scorecard_keys.tenant_id = job_metrics.tenant_id
        and scorecard_keys.scorecard_month = job_metrics.scorecard_month
        and scorecard_keys.technician_id = job_metrics.technician_id
    left join sales_metrics
        on
        scorecard_keys.tenant_id = sales_metrics.tenant_id
        and scorecard_keys.scorecard_month = sales_metrics.scorecard_month
        and scorecard_keys.technician_id = sales_metrics.technician_id
    left join membership_metrics
        on
        scorecard_keys.tenant_id = membership_metrics.tenant_id
        and scorecard_keys.scorecard_month = membership_metrics.scorecard_month
        and scorecard_keys.technician_id = membership_metrics.technician_id
    left join recall_metrics
        on
        scorecard_keys.tenant_id = recall_metrics.tenant_id
        and scorecard_keys.scorecard_month = recall_metrics.scorecard_month
        and scorecard_keys.technician_id = recall_metrics.technician_id
    left join hours_metrics
        on
        scorecard_keys.tenant_id = hours_metrics.tenant_id
        and scorecard_keys.scorecard_month = hours_metrics.scorecard_month
        and scorecard_keys.technician_id = hours_metrics.technician_id
    -- a job completed without a completion time has no month to count in
    where scorecard_keys.scorecard_month is not null

),

final as (

    select
        combined.tenant_id,
        combined.scorecard_month,
        combined.technician_id,
        coalesce(
            technicians.technician_name, 'Unknown technician ' || combined.technician_id
        ) as technician_name,
        combined.completed_jobs,
        combined.opportunities,
        combined.converted_jobs,
        {{ ratio('combined.converted_jobs', 'combined.opportunities') }} as conversion_rate,
        combined.sales_opportunities,
        combined.sales_won,
        {{ ratio('combined.sales_won', 'combined.sales_opportunities') }} as close_rate,
        combined.split_revenue,
        {{ money_divide('combined.split_revenue', 'combined.completed_jobs') }} as average_ticket,
        combined.memberships_sold,
        combined.recalls_caused,
        {{ hours_from_microseconds('combined.worked_microseconds') }} as hours_worked,
        -- revenue / hours from the exact microseconds, not the rounded hours
        {{ money_divide('combined.split_revenue * 3600000000', 'combined.worked_microseconds') }}
            as revenue_per_hour
    from combined
    {{ join_within_tenant('combined', 'technicians', 'technician_id') }}

)

{{ select_with_connection_name('final') }}
