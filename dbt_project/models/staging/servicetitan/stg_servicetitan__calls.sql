with

source as (

    select * from {{ source('servicetitan', 'calls') }}

),

renamed as (

    select
        -- keys (the telecom module nests references as {id, name} objects)
        _tenant_id as tenant_id,
        id as call_id,
        {{ st_id("payload ->> '$.customer.id'") }} as customer_id,
        {{ st_id("payload ->> '$.location.id'") }} as location_id,
        {{ st_id("payload ->> '$.campaign.id'") }} as campaign_id,
        -- The job booked on the call; set on booked calls.
        {{ st_id("payload ->> '$.job.id'") }} as job_id,
        {{ st_id("payload ->> '$.lead.id'") }} as lead_id,
        {{ st_id("payload ->> '$.reason.id'") }} as call_reason_id,
        {{ st_id("payload ->> '$.agent.id'") }} as agent_id,
        {{ st_id("payload ->> '$.createdBy.id'") }} as created_by_id,

        -- attributes
        payload ->> '$.direction' as call_direction,
        payload ->> '$.status' as call_status,
        -- Booked, Unbooked, Abandoned, Excused or NotLead: what booking rate counts. Null while
        -- an inbound call is unclassified, and for outbound calls.
        payload ->> '$.type' as call_type,
        payload ->> '$.from' as from_phone_number,
        payload ->> '$.to' as to_phone_number,
        payload ->> '$.tag' as call_tag,
        payload ->> '$.excuseMemo' as excuse_memo,
        payload ->> '$.recordingUrl' as recording_url,
        payload ->> '$.voiceMailPath' as voicemail_path,
        {{ st_duration_seconds(
            "payload ->> '$.duration'", "'call ' || id || ' of tenant ' || _tenant_id"
        ) }} as duration_seconds,

        -- references flattened for analysts (names as of the call)
        payload ->> '$.customer.name' as customer_name,
        payload ->> '$.location.name' as location_name,
        payload ->> '$.campaign.name' as campaign_name,
        payload ->> '$.job.number' as job_number,
        payload ->> '$.reason.name' as call_reason_name,
        payload ->> '$.agent.name' as agent_name,
        payload ->> '$.createdBy.name' as created_by_name,

        -- flags
        active as is_active,

        -- timestamps (UTC): createdOn is when the call came in or was placed
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
