{#
    Technician performance by month of job completion (UTC): completed jobs, their revenue and
    the average ticket.

    Attribution: a job, and all of its revenue, is credited to the technician ServiceTitan
    records as having sold it (the job's `soldById`). Jobs with no sold-by technician appear on
    one row with `technician_id` NULL ("Unattributed"), so the report adds up to all completed
    jobs. A job's revenue is the pre-tax revenue of its active invoices, adjustments included
    (int_invoices__enriched); inactive (deleted) jobs do not count.

    To aggregate over several months, sum `completed_jobs` and `revenue`, then divide: averaging
    `average_ticket` would weight months equally.
#}

with

jobs as (

    select * from {{ ref('fct_jobs') }}
    where is_completed

),

technicians as (

    select * from {{ ref('dim_technicians') }}

),

monthly as (

    select
        tenant_id,
        sold_by_technician_id as technician_id,
        cast(date_trunc('month', completed_date) as date) as completed_month,
        count(*) as completed_jobs,
        count(*) filter (where revenue > 0) as completed_jobs_with_revenue,
        cast(sum(revenue) as decimal(18, 2)) as revenue,
        cast(sum(total_invoiced) as decimal(18, 2)) as total_invoiced
    from jobs
    group by 1, 2, 3

),

final as (

    select
        monthly.tenant_id,
        monthly.technician_id,
        monthly.completed_month,
        case
            when monthly.technician_id is null then 'Unattributed'
            when technicians.technician_name is null
                then 'Unknown technician ' || monthly.technician_id
            else technicians.technician_name
        end as technician_name,
        technicians.business_unit_name as technician_business_unit_name,
        technicians.is_active as is_technician_active,
        monthly.completed_jobs,
        monthly.completed_jobs_with_revenue,
        monthly.revenue,
        monthly.total_invoiced,
        {{ money_divide('monthly.revenue', 'monthly.completed_jobs') }} as average_ticket
    from monthly
    {{ join_within_tenant('monthly', 'technicians', 'technician_id') }}

)

{{ select_with_connection_name('final') }}
