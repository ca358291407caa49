{#
    Job funnel by job type and campaign: how many jobs are in each status, and which share was
    completed or canceled. Counts active jobs only (inactive ones were deleted in ServiceTitan);
    rates are shares of all those jobs, so `completion_rate + cancellation_rate + open share = 1`,
    with jobs still Scheduled, Dispatched, InProgress or on Hold as the open share.
#}

with

jobs as (

    select * from {{ ref('fct_jobs') }}
    where is_active

),

job_types as (

    select tenant_id, job_type_id, job_type_name
    from {{ ref('dim_job_types') }}

),

campaigns as (

    select tenant_id, campaign_id, campaign_name
    from {{ ref('dim_campaigns') }}

),

funnel as (

    select
        tenant_id,
        job_type_id,
        campaign_id,
        count(*) as total_jobs,
        count(*) filter (where job_status = 'Scheduled') as scheduled_jobs,
        count(*) filter (where job_status = 'Dispatched') as dispatched_jobs,
        count(*) filter (where job_status = 'InProgress') as in_progress_jobs,
        count(*) filter (where job_status = 'Hold') as on_hold_jobs,
        count(*) filter (where job_status = 'Completed') as completed_jobs,
        count(*) filter (where job_status = 'Canceled') as canceled_jobs,
        cast(sum(revenue) filter (where job_status = 'Completed') as decimal(18, 2)) as completed_revenue
    from jobs
    group by 1, 2, 3

),

final as (

    select
        funnel.tenant_id,
        funnel.job_type_id,
        coalesce(job_types.job_type_name, 'Unknown job type ' || funnel.job_type_id) as job_type_name,
        funnel.campaign_id,
        coalesce(campaigns.campaign_name, 'Unknown campaign ' || funnel.campaign_id) as campaign_name,
        funnel.total_jobs,
        funnel.scheduled_jobs,
        funnel.dispatched_jobs,
        funnel.in_progress_jobs,
        funnel.on_hold_jobs,
        funnel.completed_jobs,
        funnel.canceled_jobs,
        funnel.total_jobs - funnel.completed_jobs - funnel.canceled_jobs as open_jobs,
        {{ ratio('funnel.completed_jobs', 'funnel.total_jobs') }} as completion_rate,
        {{ ratio('funnel.canceled_jobs', 'funnel.total_jobs') }} as cancellation_rate,
        coalesce(funnel.completed_revenue, 0) as completed_revenue,
        {{ money_divide('coalesce(funnel.completed_revenue, 0)', 'funnel.completed_jobs') }}
            as average_ticket
    from funnel
    left join job_types
        on funnel.tenant_id = job_types.tenant_id
        and funnel.job_type_id = job_types.job_type_id
    left join campaigns
        on funnel.tenant_id = campaigns.tenant_id
        and funnel.campaign_id = campaigns.campaign_id

)

select * from final
