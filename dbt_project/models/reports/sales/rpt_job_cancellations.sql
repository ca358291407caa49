{#
    Cancel rate by month and business unit: canceled / (completed + canceled) jobs, each job in
    the month it reached its outcome (completion date, or cancellation date from its latest
    cancel log: int_job_cancellations). Open jobs are in neither part: they have no outcome yet.
    The reasons behind the canceled jobs are in rpt_job_cancel_reasons.
#}

with

completed_jobs as (

    select
        tenant_id,
        business_unit_id,
        business_unit_name,
        cast(date_trunc('month', completed_date) as date) as outcome_month
    from {{ ref('fct_jobs') }}
    where is_completed

),

canceled_jobs as (

    select
        tenant_id,
        business_unit_id,
        business_unit_name,
        canceled_month as outcome_month,
        has_cancel_log
    from {{ ref('int_job_cancellations') }}

),

outcomes as (

    select
        tenant_id,
        business_unit_id,
        business_unit_name,
        outcome_month,
        true as is_completed,
        false as is_canceled,
        false as has_cancel_log
    from completed_jobs

    union all

    select
        tenant_id,
        business_unit_id,
        business_unit_name,
        outcome_month,
        false as is_completed,
        true as is_canceled,
        has_cancel_log
    from canceled_jobs

),

monthly as (

    select
        tenant_id,
        outcome_month,
        business_unit_id,
        coalesce(any_value(business_unit_name), 'Unassigned') as business_unit_name,
        count(*) filter (where is_completed) as completed_jobs,
        count(*) filter (where is_canceled) as canceled_jobs,
        count(*) as closed_jobs,
        count(*) filter (where is_canceled and not has_cancel_log) as canceled_without_log
    from outcomes
    group by tenant_id, outcome_month, business_unit_id

),

final as (

    select
        tenant_id,
        outcome_month,
        business_unit_id,
        business_unit_name,
        completed_jobs,
        canceled_jobs,
        closed_jobs,
        {{ ratio('canceled_jobs', 'closed_jobs') }} as cancel_rate,
        canceled_without_log
    from monthly

)

{{ select_with_connection_name('final') }}
