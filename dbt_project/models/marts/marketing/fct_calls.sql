{#
    One row per phone call (stg_servicetitan__calls), inbound and outbound, inactive ones
    included (`is_active` false), with ServiceTitan's booking-rate decisions made once:
    `is_lead_call` and `is_booked`. The rules, from ServiceTitan's help pages ("Understand call
    classifications", "Set up call reasons", "ServiceTitan Glossary", "Marketing Scorecards"),
    are written in _marketing__models.yml.
#}

{#
    Incremental (docs/incremental.md): each run rebuilds the calls loaded since the last build,
    those whose surviving customer (a merge) or campaign name changed, those a job loaded since
    names as its lead call or was booked from, and every call of a renamed tenant.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'call_id'],
    post_hook=[
        "{{ delete_rows_gone_from(source('servicetitan', 'calls'), [('call_id', 'id')]) }}",
        "{{ record_incremental_watermark() }}",
    ]
) }}
-- depends_on: {{ source('servicetitan', 'calls') }}

with

{%- if is_incremental() %}

    jobs_loaded_since as (

        select
            tenant_id,
            job_id,
            lead_call_id
        from {{ ref('stg_servicetitan__jobs') }}
        where loaded_at > {{ incremental_watermark() }}

    ),

    to_rebuild as (

        select
            tenant_id,
            call_id
        from {{ ref('stg_servicetitan__calls') }}
        where loaded_at > {{ incremental_watermark() }}

        union

        -- the booked job is the lowest job naming the call as its lead call: a job loaded since
        -- may become it (its lead call), or stop being it (the call it was booked from)
        select
            tenant_id,
            lead_call_id as call_id
        from jobs_loaded_since
        where lead_call_id is not null

        union

        select
            built.tenant_id,
            built.call_id
        from {{ this }} as built
        inner join jobs_loaded_since
            on built.tenant_id = jobs_loaded_since.tenant_id
            and built.booked_job_id = jobs_loaded_since.job_id

        union

        {{ re_merged_customer_rows(['tenant_id', 'call_id']) }}

        union

        -- the campaign's name, when the campaign is known (else the call's own, unchanged)
        {{ stale_stored_rows(
            ['tenant_id', 'call_id'],
            ref('stg_servicetitan__campaigns'),
            'built.tenant_id = latest.tenant_id and built.campaign_id = latest.campaign_id',
            [('campaign_name', 'coalesce(latest.campaign_name, built.campaign_name)')]
        ) }}

        union

        {{ renamed_tenant_rows(['tenant_id', 'call_id']) }}

    ),

{%- endif %}

calls as (

    select all_calls.*
    from {{ ref('stg_servicetitan__calls') }} as all_calls
    {% if is_incremental() -%}
        {{ join_within_tenant('all_calls', 'to_rebuild', 'call_id', join_type='inner') }}
    {%- endif %}

),

customer_merges as (

    select * from {{ ref('int_customers__merge_resolved') }}

),

campaigns as (

    select * from {{ ref('stg_servicetitan__campaigns') }}

),

-- A job can name the call that booked it (`leadCallId`) when the call does not name the job.
-- Several jobs may name one call (a call that booked two visits): the first job is the call's.
jobs_by_lead_call as (

    select
        tenant_id,
        lead_call_id as call_id,
        min(job_id) as job_id
    from {{ ref('stg_servicetitan__jobs') }}
    where lead_call_id is not null
    group by tenant_id, lead_call_id

),

classified as (

    select
        calls.*,
        -- ServiceTitan's own classification (`type`) already applies the 60-second rule and the
        -- call reasons' Is Lead setting, and a manager's reclassification overrides both: it is
        -- what the dashboard counts, so it is read as is rather than recomputed from duration.
        -- an unclassified call (type null) is not a lead call: false, not unknown
        coalesce(
            calls.is_active
            and calls.call_direction = 'Inbound'
            and calls.call_type in ('Booked', 'Unbooked'),
            false
        ) as is_lead_call
    from calls

),

final as (

    select
        -- keys
        classified.tenant_id,
        classified.call_id,
        classified.customer_id,
        coalesce(
            customer_merges.surviving_customer_id, classified.customer_id
        ) as surviving_customer_id,
        classified.location_id,
        classified.campaign_id,
        classified.agent_id,
        classified.lead_id,
        classified.call_reason_id,
        coalesce(classified.job_id, jobs_by_lead_call.job_id) as booked_job_id,

        -- names, for reading without joins (the campaign's current name when it is loaded)
        coalesce(campaigns.campaign_name, classified.campaign_name) as campaign_name,
        classified.agent_name,
        classified.call_reason_name,

        -- the call
        classified.call_direction,
        classified.call_status,
        classified.call_type,
        classified.duration_seconds,
        classified.excuse_memo,
        classified.is_active,

        -- the decisions
        classified.is_lead_call,
        classified.is_lead_call and classified.call_type = 'Booked' as is_booked,
        classified.is_lead_call and classified.call_type = 'Unbooked' as is_unbooked,

        -- dates (UTC): when the call came in or was placed
        classified.created_at as called_at,
        {{ st_utc_date('classified.created_at') }} as call_date,
        cast(date_trunc('month', {{ st_utc_date('classified.created_at') }}) as date) as call_month,
        classified.modified_at,
        classified.loaded_at

    from classified
    {{ join_within_tenant('classified', 'customer_merges', 'customer_id') }}
    {{ join_within_tenant('classified', 'campaigns', 'campaign_id') }}
    {{ join_within_tenant('classified', 'jobs_by_lead_call', 'call_id') }}

)

{{ select_with_connection_name('final') }}
