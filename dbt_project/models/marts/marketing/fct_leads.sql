{#
    One row per lead of the CRM (stg_servicetitan__leads), inactive ones included, with whether
    rpt_marketing_roi counts it as a lead of its own (`is_counted_lead`): a lead that came from
    a lead call, or whose booking became a job a lead call booked, is that call's contact and is
    counted once, as the call. The rule is in _marketing__models.yml.
#}

with

leads as (

    select * from {{ ref('stg_servicetitan__leads') }}

),

customer_merges as (

    select * from {{ ref('int_customers__merge_resolved') }}

),

campaigns as (

    select * from {{ ref('stg_servicetitan__campaigns') }}

),

lead_calls as (

    select
        tenant_id,
        call_id
    from {{ ref('fct_calls') }}
    where is_lead_call

),

-- The jobs booked by lead calls, once each: a booking that became one of them is the call's.
jobs_booked_by_lead_calls as (

    select distinct
        tenant_id,
        booked_job_id as job_id
    from {{ ref('fct_calls') }}
    where is_lead_call and booked_job_id is not null

),

bookings as (

    select
        tenant_id,
        booking_id,
        job_id as booking_job_id
    from {{ ref('stg_servicetitan__bookings') }}

),

joined as (

    select
        leads.*,
        bookings.booking_job_id,
        lead_calls.call_id is not null as is_from_lead_call,
        jobs_booked_by_lead_calls.job_id is not null as is_booked_by_lead_call,
        coalesce(customer_merges.surviving_customer_id, leads.customer_id) as surviving_customer_id,
        campaigns.campaign_name
    from leads
    {{ join_within_tenant('leads', 'customer_merges', 'customer_id') }}
    {{ join_within_tenant('leads', 'campaigns', 'campaign_id') }}
    {{ join_within_tenant('leads', 'lead_calls', 'call_id') }}
    {{ join_within_tenant('leads', 'bookings', 'booking_id') }}
    {{ join_within_tenant('bookings', 'jobs_booked_by_lead_calls', 'booking_job_id', 'job_id') }}

),

final as (

    select
        -- keys
        tenant_id,
        lead_id,
        customer_id,
        surviving_customer_id,
        location_id,
        business_unit_id,
        job_type_id,
        campaign_id,
        call_id,
        booking_id,
        booking_job_id,
        manual_call_id,
        call_reason_id,
        dismissing_reason_id,

        campaign_name,
        lead_status,
        priority,
        capture_source,
        is_active,

        -- the decisions
        is_from_lead_call,
        is_booked_by_lead_call,
        coalesce(
            is_active and not is_from_lead_call and not is_booked_by_lead_call, false
        ) as is_counted_lead,

        -- dates (UTC)
        created_at,
        {{ st_utc_date('created_at') }} as created_date,
        cast(date_trunc('month', {{ st_utc_date('created_at') }}) as date) as created_month,
        follow_up_at,
        modified_at,
        loaded_at
    from joined

)

{{ select_with_connection_name('final') }}
