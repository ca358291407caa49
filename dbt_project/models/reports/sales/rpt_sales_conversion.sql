{#
    Conversion rate, close rate and average ticket by month of job completion (UTC), three ways
    in one table: `dimension` = 'company' (one row a month), 'business_unit' (the job's) or
    'technician' (the job's sold-by technician). Every job is counted once per dimension, so
    each dimension's rows add up to the company row. The job-level decisions (opportunity,
    converted, sales opportunity, won) are int_job_outcomes'; the definitions are in the yml.
#}

with

outcomes as (

    select * from {{ ref('int_job_outcomes') }}
    where is_completed

),

business_units as (

    select * from {{ ref('dim_business_units') }}

),

technicians as (

    select * from {{ ref('dim_technicians') }}

),

-- each completed job three times, once under each dimension, with the dimension's name
job_dimensions as (

    select
        outcomes.tenant_id,
        outcomes.completed_month,
        'company' as dimension,
        cast(null as bigint) as dimension_id,
        'All business units' as dimension_name,
        outcomes.invoice_subtotal,
        outcomes.sold_estimate_subtotal,
        outcomes.is_opportunity,
        outcomes.is_converted,
        outcomes.is_sales_opportunity,
        outcomes.is_sales_won
    from outcomes

    union all

    select
        outcomes.tenant_id,
        outcomes.completed_month,
        'business_unit' as dimension,
        outcomes.business_unit_id as dimension_id,
        coalesce(business_units.business_unit_name, 'Unassigned') as dimension_name,
        outcomes.invoice_subtotal,
        outcomes.sold_estimate_subtotal,
        outcomes.is_opportunity,
        outcomes.is_converted,
        outcomes.is_sales_opportunity,
        outcomes.is_sales_won
    from outcomes
    {{ join_within_tenant('outcomes', 'business_units', 'business_unit_id') }}

    union all

    select
        outcomes.tenant_id,
        outcomes.completed_month,
        'technician' as dimension,
        outcomes.sold_by_technician_id as dimension_id,
        coalesce(technicians.technician_name, 'Unattributed') as dimension_name,
        outcomes.invoice_subtotal,
        outcomes.sold_estimate_subtotal,
        outcomes.is_opportunity,
        outcomes.is_converted,
        outcomes.is_sales_opportunity,
        outcomes.is_sales_won
    from outcomes
    {{ join_within_tenant('outcomes', 'technicians', 'sold_by_technician_id', 'technician_id') }}

),

aggregated as (

    select
        tenant_id,
        completed_month,
        dimension,
        dimension_id,
        -- a business unit or technician not loaded has no name: one row either way
        any_value(dimension_name) as dimension_name,
        count(*) as completed_jobs,
        {{ money_total('invoice_subtotal') }} as completed_revenue,
        count(*) filter (where is_opportunity) as opportunities,
        count(*) filter (where is_opportunity and is_converted) as converted_jobs,
        count(*) filter (where is_sales_opportunity) as sales_opportunities,
        count(*) filter (where is_sales_won) as sales_won,
        {{ money_total('sold_estimate_subtotal', 'is_sales_won') }} as won_estimate_subtotal
    from job_dimensions
    group by tenant_id, completed_month, dimension, dimension_id

),

final as (

    select
        aggregated.tenant_id,
        aggregated.completed_month,
        aggregated.dimension,
        aggregated.dimension_id,
        aggregated.dimension_name,
        aggregated.completed_jobs,
        aggregated.completed_revenue,
        {{ money_divide('aggregated.completed_revenue', 'aggregated.completed_jobs') }}
            as average_ticket,
        aggregated.opportunities,
        aggregated.converted_jobs,
        {{ ratio('aggregated.converted_jobs', 'aggregated.opportunities') }} as conversion_rate,
        aggregated.sales_opportunities,
        aggregated.sales_won,
        {{ ratio('aggregated.sales_won', 'aggregated.sales_opportunities') }} as close_rate,
        aggregated.won_estimate_subtotal
    from aggregated

)

{{ select_with_connection_name('final') }}
