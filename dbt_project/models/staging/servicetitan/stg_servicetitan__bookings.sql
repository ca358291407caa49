with

source as (

    select * from {{ source('servicetitan', 'bookings') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as booking_id,
        {{ st_id("payload ->> '$.bookingProviderId'") }} as booking_provider_id,
        {{ st_id("payload ->> '$.campaignId'") }} as campaign_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.jobTypeId'") }} as job_type_id,
        -- The job booked from the booking; set once it was converted.
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.dismissingReasonId'") }} as dismissing_reason_id,
        -- The booking's id in the provider's system.
        payload ->> '$.externalId' as external_id,

        -- attributes
        payload ->> '$.status' as booking_status,
        payload ->> '$.priority' as priority,
        payload ->> '$.source' as booking_source,
        payload ->> '$.summary' as summary,
        -- The customer as the provider sent them (not yet a ServiceTitan customer).
        payload ->> '$.name' as customer_name,
        payload ->> '$.customerType' as customer_type,

        -- address
        {{ st_address('$.address', 'address') }},

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isFirstTimeClient'") }} as is_first_time_client,
        {{ st_bool("payload ->> '$.isSendConfirmationEmail'") }} as sends_confirmation_email,

        -- json
        payload -> '$.uploadedImages' as uploaded_images,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.start'") }} as starts_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
