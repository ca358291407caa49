{#
    One row per estimate (stg_servicetitan__estimates), inactive ones included and flagged: the
    job it was offered on, the customer after merges, location, business unit, the technician
    who sold it, its status, money and age, with the dimensions' names beside the keys.

    Age: days from the estimate's creation (UTC date) to the as-of date, the UTC date of the
    tenant's latest estimate load (the day the statuses were read), like rpt_ar_aging's. The
    same overrides apply, so both age the same snapshot: the dbt var `estimate_as_of_date`,
    else `ar_as_of_date`, else SERVICETITAN_AR_AS_OF_DATE (e.g. the simulator's clock).
#}

{%- set as_of_override = var(
    'estimate_as_of_date', var('ar_as_of_date', env_var('SERVICETITAN_AR_AS_OF_DATE', ''))
) %}

with

estimates as (

    select * from {{ ref('stg_servicetitan__estimates') }}

),

estimate_items as (

    select * from {{ ref('stg_servicetitan__estimate_items') }}

),

customer_merges as (

    select * from {{ ref('int_customers__merge_resolved') }}

),

jobs as (

    select * from {{ ref('fct_jobs') }}

),

business_units as (

    select * from {{ ref('dim_business_units') }}

),

technicians as (

    select * from {{ ref('dim_technicians') }}

),

job_types as (

    select * from {{ ref('dim_job_types') }}

),

as_of as (

    select
        tenant_id,
        {% if as_of_override -%}
            cast('{{ as_of_override }}' as date) as as_of_date
        {%- else -%}
            {{ st_utc_date('max(loaded_at)') }} as as_of_date
        {%- endif %}
    from estimates
    group by tenant_id

),

-- the items actually unnested (the estimate's item_count counts the JSON array, which is the
-- same number unless the array was null), and their money, to check the subtotal against
item_totals as (

    select
        tenant_id,
        estimate_id,
        count(*) as item_count,
        {{ money_total('total') }} as items_total,
        {{ money_total('total_cost') }} as items_total_cost
    from estimate_items
    group by tenant_id, estimate_id

),

-- the estimate's own business unit, else its job's (an estimate outside a job has only its own)
with_job as (

    select
        estimates.*,
        coalesce(estimates.business_unit_id, jobs.business_unit_id) as attributed_business_unit_id,
        jobs.job_type_id
    from estimates
    {{ join_within_tenant('estimates', 'jobs', 'job_id') }}

),

final as (

    select
        -- keys
        with_job.tenant_id,
        with_job.estimate_id,
        with_job.job_id,
        with_job.project_id,
        with_job.customer_id,
        coalesce(customer_merges.surviving_customer_id, with_job.customer_id)
            as surviving_customer_id,
        with_job.location_id,
        with_job.attributed_business_unit_id as business_unit_id,
        with_job.job_type_id,
        with_job.sold_by_technician_id,

        -- names, for reading without joins
        with_job.estimate_name,
        with_job.job_number,
        coalesce(
            business_units.business_unit_name, with_job.business_unit_name
        ) as business_unit_name,
        job_types.job_type_name,
        technicians.technician_name as sold_by_technician_name,

        -- status
        with_job.estimate_status,
        with_job.review_status,
        with_job.is_active,
        with_job.is_active and with_job.estimate_status = 'Open' as is_open,
        with_job.is_active and with_job.estimate_status = 'Sold' as is_sold,
        with_job.is_active and with_job.estimate_status = 'Dismissed' as is_dismissed,
        with_job.is_recommended,
        with_job.is_change_order,

        -- money (exact)
        with_job.subtotal,
        with_job.tax,
        cast(coalesce(with_job.subtotal, 0) + coalesce(with_job.tax, 0) as decimal(18, 2))
            as total,
        coalesce(item_totals.items_total, 0) as items_total,
        coalesce(item_totals.items_total_cost, 0) as items_total_cost,
        coalesce(item_totals.item_count, 0) as item_count,

        -- dates (UTC) and age
        with_job.created_at,
        {{ st_utc_date('with_job.created_at') }} as created_date,
        with_job.sold_at,
        {{ st_utc_date('with_job.sold_at') }} as sold_date,
        with_job.modified_at,
        as_of.as_of_date,
        as_of.as_of_date - {{ st_utc_date('with_job.created_at') }} as age_days,
        {{ st_utc_date('with_job.sold_at') }} - {{ st_utc_date('with_job.created_at') }}
            as days_to_sell,

        with_job.summary,
        with_job.loaded_at

    from with_job
    inner join as_of
        on with_job.tenant_id = as_of.tenant_id
    {{ join_within_tenant('with_job', 'customer_merges', 'customer_id') }}
    {{ join_within_tenant('with_job', 'item_totals', 'estimate_id') }}
    {{ join_within_tenant(
        'with_job', 'business_units', 'attributed_business_unit_id', 'business_unit_id'
    ) }}
    {{ join_within_tenant('with_job', 'technicians', 'sold_by_technician_id', 'technician_id') }}
    {{ join_within_tenant('with_job', 'job_types', 'job_type_id') }}

)

{{ select_with_connection_name('final') }}
