{#
    One row per job and technician credited with it: the technicians of the job's active splits
    with the share of its invoice subtotal their splits carry (fct_job_splits, exact to the
    cent), or, for a job without active splits, its sold-by technician with the whole subtotal.
    A job with neither is credited to nobody. Every job, whatever its status: the scorecard
    counts completed jobs, and credits a recall back to the original job's technicians.
#}

with

job_outcomes as (

    select * from {{ ref('int_job_outcomes') }}

),

splits as (

    select * from {{ ref('fct_job_splits') }}

),

-- a technician with two active splits on one job (a duplicate ServiceTitan keeps) is credited
-- once, with both shares
split_credits as (

    select
        tenant_id,
        job_id,
        technician_id,
        cast(sum(credited_subtotal) as decimal(18, 2)) as credited_subtotal,
        cast(sum(split_percent) as decimal(18, 4)) as split_percent
    from splits
    where technician_id is not null
    group by tenant_id, job_id, technician_id

),

jobs_with_splits as (

    select distinct
        tenant_id,
        job_id
    from split_credits

),

sold_by_credits as (

    select
        job_outcomes.tenant_id,
        job_outcomes.job_id,
        job_outcomes.sold_by_technician_id as technician_id,
        job_outcomes.invoice_subtotal as credited_subtotal,
        cast(100 as decimal(18, 4)) as split_percent
    from job_outcomes
    {{ join_within_tenant('job_outcomes', 'jobs_with_splits', 'job_id') }}
    where
        job_outcomes.sold_by_technician_id is not null
        and jobs_with_splits.job_id is null

),

credits as (

    select
        *,
        'job split' as credited_through
    from split_credits
    union all
    select
        *,
        'sold by' as credited_through
    from sold_by_credits

),

final as (

    select
        credits.tenant_id,
        credits.job_id,
        credits.technician_id,
        credits.credited_through,
        credits.split_percent,
        credits.credited_subtotal,
        job_outcomes.business_unit_id,
        job_outcomes.is_completed,
        job_outcomes.completed_month,
        job_outcomes.is_opportunity,
        job_outcomes.is_converted,
        job_outcomes.is_sales_opportunity,
        job_outcomes.is_sales_won,
        job_outcomes.is_recall,
        job_outcomes.recall_for_job_id
    from credits
    {{ join_within_tenant('credits', 'job_outcomes', 'job_id', join_type='inner') }}

)

select * from final
