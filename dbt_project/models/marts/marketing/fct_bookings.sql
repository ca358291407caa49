{#
    One row per booking from a booking provider (stg_servicetitan__bookings), inactive ones
    included, with the job it became and whether rpt_marketing_roi counts it as a lead of its
    own (`is_counted_lead`): a booking that a CRM lead was converted into is that lead's, and
    one that became a job a lead call booked is the call's; each contact is counted once. The
    rule is in _marketing__models.yml.
#}

with

bookings as (

    select * from {{ ref('stg_servicetitan__bookings') }}

),

campaigns as (

    select * from {{ ref('stg_servicetitan__campaigns') }}

),

-- The active CRM leads that were converted into each booking (the first one is named).
leads_by_booking as (

    select
        tenant_id,
        booking_id,
        min(lead_id) as lead_id
    from {{ ref('stg_servicetitan__leads') }}
    where is_active and booking_id is not null
    group by tenant_id, booking_id

),

jobs_booked_by_lead_calls as (

    select distinct
        tenant_id,
        booked_job_id as job_id
    from {{ ref('fct_calls') }}
    where is_lead_call and booked_job_id is not null

),

final as (

    select
        -- keys
        bookings.tenant_id,
        bookings.booking_id,
        bookings.campaign_id,
        bookings.business_unit_id,
        bookings.job_type_id,
        bookings.job_id,
        leads_by_booking.lead_id,
        bookings.booking_provider_id,
        bookings.dismissing_reason_id,
        bookings.external_id,

        campaigns.campaign_name,
        bookings.booking_status,
        bookings.booking_source,
        bookings.priority,
        bookings.customer_type,
        bookings.is_first_time_client,
        bookings.is_active,

        -- the decisions
        bookings.job_id is not null as is_converted_to_job,
        leads_by_booking.lead_id is not null as is_from_lead,
        jobs_booked_by_lead_calls.job_id is not null as is_booked_by_lead_call,
        coalesce(
            bookings.is_active
            and leads_by_booking.lead_id is null
            and jobs_booked_by_lead_calls.job_id is null,
            false
        ) as is_counted_lead,

        -- dates (UTC)
        bookings.created_at,
        {{ st_utc_date('bookings.created_at') }} as created_date,
        cast(
            date_trunc('month', {{ st_utc_date('bookings.created_at') }}) as date
        ) as created_month,
        bookings.starts_at,
        bookings.modified_at,
        bookings.loaded_at

    from bookings
    {{ join_within_tenant('bookings', 'campaigns', 'campaign_id') }}
    {{ join_within_tenant('bookings', 'leads_by_booking', 'booking_id') }}
    {{ join_within_tenant('bookings', 'jobs_booked_by_lead_calls', 'job_id') }}

)

{{ select_with_connection_name('final') }}
