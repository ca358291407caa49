{#
    One row per canceled job (active, status Canceled, as fct_jobs decides): when and why it
    was canceled. ServiceTitan writes a cancel log (job_canceled_logs) each time a job is
    canceled, with the reason picked from the company's cancel reasons ("Cancel a job"); a job
    that was canceled, rebooked and canceled again has several, and the latest is the one in
    force, so its date and reason are the job's. A canceled job without a loaded log (the log
    not synced yet, or canceled before logs were kept) is dated by its last modification,
    which is its cancellation when nothing changed it since, and has no reason.
#}

with

jobs as (

    select * from {{ ref('fct_jobs') }}
    where is_canceled

),

cancel_logs as (

    select * from {{ ref('stg_servicetitan__job_canceled_logs') }}
    where coalesce(is_active, true)

),

cancel_reasons as (

    select * from {{ ref('stg_servicetitan__job_cancel_reasons') }}

),

latest_logs as (

    select
        tenant_id,
        job_id,
        job_canceled_log_id,
        cancel_reason_id,
        memo,
        created_at,
        count(*) over (partition by tenant_id, job_id) as cancel_log_count
    from cancel_logs
    qualify row_number() over (
            partition by tenant_id, job_id
            order by created_at desc nulls last, job_canceled_log_id desc
        ) = 1

),

cancellations as (

    select
        jobs.tenant_id,
        jobs.job_id,
        jobs.business_unit_id,
        jobs.business_unit_name,
        jobs.job_type_id,
        jobs.campaign_id,
        latest_logs.job_canceled_log_id,
        latest_logs.cancel_reason_id,
        cancel_reasons.job_cancel_reason_name as cancel_reason_name,
        latest_logs.memo as cancel_memo,
        coalesce(latest_logs.cancel_log_count, 0) as cancel_log_count,
        latest_logs.job_id is not null as has_cancel_log,
        coalesce(latest_logs.created_at, jobs.modified_at) as canceled_at
    from jobs
    {{ join_within_tenant('jobs', 'latest_logs', 'job_id') }}
    {{ join_within_tenant(
        'latest_logs', 'cancel_reasons', 'cancel_reason_id', 'job_cancel_reason_id'
    ) }}

),

final as (

    select
        *,
        {{ st_utc_date('canceled_at') }} as canceled_date,
        cast(date_trunc('month', {{ st_utc_date('canceled_at') }}) as date) as canceled_month
    from cancellations

)

select * from final
