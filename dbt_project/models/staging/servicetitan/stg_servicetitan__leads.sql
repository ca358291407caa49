with

source as (

    select * from {{ source('servicetitan', 'leads') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as lead_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.locationId'") }} as location_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.jobTypeId'") }} as job_type_id,
        {{ st_id("payload ->> '$.campaignId'") }} as campaign_id,
        -- What classified the lead: a call, a booking or a manual call.
        {{ st_id("payload ->> '$.callId'") }} as call_id,
        {{ st_id("payload ->> '$.bookingId'") }} as booking_id,
        {{ st_id("payload ->> '$.manualCallId'") }} as manual_call_id,
        {{ st_id("payload ->> '$.callReasonId'") }} as call_reason_id,
        {{ st_id("payload ->> '$.dismissingReasonId'") }} as dismissing_reason_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,

        -- attributes
        payload ->> '$.status' as lead_status,
        payload ->> '$.priority' as priority,
        payload ->> '$.summary' as summary,
        payload ->> '$.captureSource' as capture_source,
        payload ->> '$.leadUrl' as lead_url,

        -- what the prospect gave, before they were a customer
        payload ->> '$.leadCustomerName' as lead_customer_name,
        payload ->> '$.leadPhone' as lead_phone,
        payload ->> '$.leadEmail' as lead_email,
        payload ->> '$.leadStreet' as lead_address_street,
        payload ->> '$.leadUnit' as lead_address_unit,
        payload ->> '$.leadCity' as lead_address_city,
        payload ->> '$.leadState' as lead_address_state,
        payload ->> '$.leadZip' as lead_address_zip,
        payload ->> '$.leadCountry' as lead_address_country,

        -- flags
        active as is_active,

        -- json
        {{ st_id_list("payload -> '$.tagTypeIds'") }} as tag_type_ids,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.followUpDate'") }} as follow_up_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
