{#
    Incremental (docs/incremental.md): each run rebuilds the jobs loaded since the last build,
    those whose surviving customer (a merge), invoiced revenue, job type, business unit or
    campaign name changed, and every job of a renamed tenant.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'job_id'],
    post_hook=[
        "{{ delete_rows_gone_from(source('servicetitan', 'jobs'), [('job_id', 'id')]) }}",
        "{{ record_incremental_watermark() }}",
    ]
) }}
-- depends_on: {{ source('servicetitan', 'jobs') }}

with

{%- if is_incremental() %}

    to_rebuild as (

        select
            tenant_id,
            job_id
        from {{ ref('stg_servicetitan__jobs') }}
        where loaded_at > {{ incremental_watermark() }}

        union

        {{ re_merged_customer_rows(['tenant_id', 'job_id']) }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'job_id'],
            ref('int_jobs__revenue'),
            'built.tenant_id = latest.tenant_id and built.job_id = latest.job_id',
            [
                ('invoice_count', 'coalesce(latest.invoice_count, 0)'),
                ('revenue', 'coalesce(latest.revenue, 0)'),
                ('total_invoiced', 'coalesce(latest.total_invoiced, 0)'),
                ('open_balance', 'coalesce(latest.open_balance, 0)'),
            ]
        ) }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'job_id'],
            ref('stg_servicetitan__job_types'),
            'built.tenant_id = latest.tenant_id and built.job_type_id = latest.job_type_id',
            [('job_type_name', 'latest.job_type_name')]
        ) }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'job_id'],
            ref('stg_servicetitan__business_units'),
            'built.tenant_id = latest.tenant_id and built.business_unit_id = latest.business_unit_id',
            [('business_unit_name', 'latest.business_unit_name')]
        ) }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'job_id'],
            ref('stg_servicetitan__campaigns'),
            'built.tenant_id = latest.tenant_id and built.campaign_id = latest.campaign_id',
            [('campaign_name', 'latest.campaign_name')]
        ) }}

        union

        {{ renamed_tenant_rows(['tenant_id', 'job_id']) }}

    ),

{%- endif %}

jobs as (

    select all_jobs.*
    from {{ ref('stg_servicetitan__jobs') }} as all_jobs
    {% if is_incremental() -%}
        {{ join_within_tenant('all_jobs', 'to_rebuild', 'job_id', join_type='inner') }}
    {%- endif %}

),

customer_merges as (

    select * from {{ ref('int_customers__merge_resolved') }}

),

job_revenue as (

    select * from {{ ref('int_jobs__revenue') }}

),

job_types as (

    select * from {{ ref('stg_servicetitan__job_types') }}

),

business_units as (

    select * from {{ ref('stg_servicetitan__business_units') }}

),

campaigns as (

    select * from {{ ref('stg_servicetitan__campaigns') }}

),

final as (

    select
        -- keys
        jobs.tenant_id,
        jobs.job_id,
        jobs.job_number,
        jobs.customer_id,
        coalesce(customer_merges.surviving_customer_id, jobs.customer_id) as surviving_customer_id,
        jobs.location_id,
        jobs.business_unit_id,
        jobs.job_type_id,
        jobs.campaign_id,
        jobs.sold_by_technician_id,
        jobs.invoice_id,
        jobs.project_id,
        jobs.membership_id,
        jobs.recall_for_job_id,
        jobs.first_appointment_id,
        jobs.last_appointment_id,

        -- names, for reading without joins
        business_units.business_unit_name,
        job_types.job_type_name,
        campaigns.campaign_name,

        -- status
        jobs.job_status,
        jobs.priority,
        jobs.is_active,
        jobs.job_status = 'Completed' and jobs.is_active as is_completed,
        jobs.job_status = 'Canceled' and jobs.is_active as is_canceled,
        jobs.is_no_charge,
        jobs.is_recall,
        jobs.appointment_count,

        -- revenue from the job's active invoices, adjustments included (int_invoices__enriched)
        coalesce(job_revenue.invoice_count, 0) as invoice_count,
        coalesce(job_revenue.revenue, 0) as revenue,
        coalesce(job_revenue.total_invoiced, 0) as total_invoiced,
        coalesce(job_revenue.open_balance, 0) as open_balance,

        -- dates (UTC)
        jobs.created_at,
        {{ st_utc_date('jobs.created_at') }} as created_date,
        jobs.completed_at,
        {{ st_utc_date('jobs.completed_at') }} as completed_date,
        jobs.modified_at,

        jobs.summary,
        jobs.custom_fields,
        jobs.loaded_at

    from jobs
    {{ join_within_tenant('jobs', 'customer_merges', 'customer_id') }}
    {{ join_within_tenant('jobs', 'job_revenue', 'job_id') }}
    {{ join_within_tenant('jobs', 'job_types', 'job_type_id') }}
    {{ join_within_tenant('jobs', 'business_units', 'business_unit_id') }}
    {{ join_within_tenant('jobs', 'campaigns', 'campaign_id') }}

)

{{ select_with_connection_name('final') }}
