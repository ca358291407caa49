{#
    One row per estimate (stg_servicetitan__estimates), inactive ones included and flagged: the
    job it was offered on, the customer after merges, location, business unit, the technician
    who sold it, its status, money and age, with the dimensions' names beside the keys.

    Age: days from the estimate's creation (UTC date) to the as-of date, the UTC date of the
    tenant's latest estimate load (the day the statuses were read), like rpt_ar_aging's. The
    same overrides apply, so both age the same snapshot: the dbt var `estimate_as_of_date`,
    else `ar_as_of_date`, else SERVICETITAN_AR_AS_OF_DATE (e.g. the simulator's clock).

    Incremental (docs/incremental.md): each run rebuilds the estimates loaded since the last
    build (their items are part of the same raw record), those on a job loaded since, those
    whose surviving customer (a merge), business unit, technician or job type name changed,
    and every estimate of a tenant whose as-of date moved (the ages are relative to it: without
    an override, any estimate load moves it, and the tenant's estimates are all rebuilt) or
    whose connection was renamed.
#}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'estimate_id'],
    post_hook=[
        "{{ delete_rows_gone_from(source('servicetitan', 'estimates'), [('estimate_id', 'id')]) }}",
        "{{ record_incremental_watermark() }}",
    ]
) }}
-- depends_on: {{ source('servicetitan', 'estimates') }}
-- depends_on: {{ ref('stg_servicetitan__jobs') }}

{%- set as_of_override = var(
    'estimate_as_of_date', var('ar_as_of_date', env_var('SERVICETITAN_AR_AS_OF_DATE', ''))
) %}

with

all_estimates as (

    select * from {{ ref('stg_servicetitan__estimates') }}

),

as_of as (

    select
        tenant_id,
        {% if as_of_override -%}
            cast('{{ as_of_override }}' as date) as as_of_date
        {%- else -%}
            {{ st_utc_date('max(loaded_at)') }} as as_of_date
        {%- endif %}
    from all_estimates
    group by tenant_id

),

{%- if is_incremental() %}

    to_rebuild as (

        select
            tenant_id,
            estimate_id
        from all_estimates
        where loaded_at > {{ incremental_watermark() }}

        union

        select
            built.tenant_id,
            built.estimate_id
        from {{ this }} as built
        inner join {{ ref('stg_servicetitan__jobs') }} as jobs_loaded_since
            on built.tenant_id = jobs_loaded_since.tenant_id
            and built.job_id = jobs_loaded_since.job_id
        where jobs_loaded_since.loaded_at > {{ incremental_watermark() }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'estimate_id'],
            'as_of',
            'built.tenant_id = latest.tenant_id',
            [('as_of_date', 'latest.as_of_date')]
        ) }}

        union

        {{ re_merged_customer_rows(['tenant_id', 'estimate_id']) }}

        union

        -- the business unit's name, when the unit is known (else the estimate's own, unchanged)
        {{ stale_stored_rows(
            ['tenant_id', 'estimate_id'],
            ref('dim_business_units'),
            'built.tenant_id = latest.tenant_id and built.business_unit_id = latest.business_unit_id',
            [('business_unit_name', 'coalesce(latest.business_unit_name, built.business_unit_name)')]
        ) }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'estimate_id'],
            ref('dim_technicians'),
            'built.tenant_id = latest.tenant_id '
            ~ 'and built.sold_by_technician_id = latest.technician_id',
            [('sold_by_technician_name', 'latest.technician_name')]
        ) }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'estimate_id'],
            ref('dim_job_types'),
            'built.tenant_id = latest.tenant_id and built.job_type_id = latest.job_type_id',
            [('job_type_name', 'latest.job_type_name')]
        ) }}

        union

        {{ renamed_tenant_rows(['tenant_id', 'estimate_id']) }}

    ),

{%- endif %}

estimates as (

    select all_estimates.*
    from all_estimates
    {% if is_incremental() -%}
        {{ join_within_tenant('all_estimates', 'to_rebuild', 'estimate_id', join_type='inner') }}
    {%- endif %}

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
