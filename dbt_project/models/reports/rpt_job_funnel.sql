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

funnel as (

    select
        tenant_id,
        job_type_id,
        campaign_id,
        -- fct_jobs carries the names of the job's type and campaign (NULL when not loaded)
        any_value(job_type_name) as job_type_name,
        any_value(campaign_name) as campaign_name,
        count(*) as total_jobs,
        count(*) filter (where job_status = 'Scheduled') as scheduled_jobs,
        count(*) filter (where job_status = 'Dispatched') as dispatched_jobs,
        count(*) filter (where job_status = 'InProgress') as in_progress_jobs,
        count(*) filter (where job_status = 'Hold') as on_hold_jobs,
        count(*) filter (where job_status = 'Completed') as completed_jobs,
        count(*) filter (where job_status = 'Canceled') as canceled_jobs,
        cast(sum(revenue) filter (where job_status = 'Completed') as decimal(18, 2))
            as completed_revenue
    from jobs
    group by 1, 2, 3

),

final as (

    select
        tenant_id,
        job_type_id,
        coalesce(job_type_name, 'Unknown job type ' || job_type_id) as job_type_name,
        campaign_id,
        coalesce(campaign_name, 'Unknown campaign ' || campaign_id) as campaign_name,
        total_jobs,
        scheduled_jobs,
        dispatched_jobs,
        in_progress_jobs,
        on_hold_jobs,
        completed_jobs,
        canceled_jobs,
        total_jobs - completed_jobs - canceled_jobs as open_jobs,
        {{ ratio('completed_jobs', 'total_jobs') }} as completion_rate,
        {{ ratio('canceled_jobs', 'total_jobs') }} as cancellation_rate,
        coalesce(completed_revenue, 0) as completed_revenue,
        {{ money_divide('coalesce(completed_revenue, 0)', 'completed_jobs') }} as average_ticket
    from funnel

)

{{ select_with_connection_name('final') }}
