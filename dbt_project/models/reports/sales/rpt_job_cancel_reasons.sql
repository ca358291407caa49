{#
    Why jobs were canceled, by month of cancellation and business unit: canceled jobs per cancel
    reason (the reason of each job's latest cancel log, int_job_cancellations) and each
    reason's share of the month's and business unit's cancellations. Jobs without a reason
    are on the `cancel_reason_id` NULL row, so the rows add up to rpt_job_cancellations'
    canceled jobs.
#}

with

cancellations as (

    select * from {{ ref('int_job_cancellations') }}

),

by_reason as (

    select
        tenant_id,
        canceled_month,
        business_unit_id,
        cancel_reason_id,
        coalesce(any_value(business_unit_name), 'Unassigned') as business_unit_name,
        coalesce(
            any_value(cancel_reason_name),
            case when cancel_reason_id is null then 'No reason recorded' else 'Unknown reason' end
        ) as cancel_reason_name,
        count(*) as canceled_jobs
    from cancellations
    group by tenant_id, canceled_month, business_unit_id, cancel_reason_id

),

final as (

    select
        tenant_id,
        canceled_month,
        business_unit_id,
        business_unit_name,
        cancel_reason_id,
        cancel_reason_name,
        canceled_jobs,
        {{ ratio(
            'canceled_jobs',
            'sum(canceled_jobs) over (partition by tenant_id, canceled_month, business_unit_id)'
        ) }} as share_of_cancellations
    from by_reason

)

{{ select_with_connection_name('final') }}
