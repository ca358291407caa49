with

source as (

    select * from {{ source('servicetitan', 'reviews') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as review_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.technicianId'") }} as technician_id,
        {{ st_id("payload ->> '$.verifiedByUserId'") }} as verified_by_user_id,

        -- attributes
        payload ->> '$.address' as address,
        payload ->> '$.authorEmail' as author_email,
        payload ->> '$.authorName' as author_name,
        payload ->> '$.customerName' as customer_name,
        payload ->> '$.externalId' as external_id,
        cast(payload ->> '$.jobStatus' as integer) as job_status,
        payload ->> '$.jobTypeName' as job_type_name,
        payload ->> '$.platform' as platform,
        cast(payload ->> '$.recommendationStatus' as integer) as recommendation_status,
        payload ->> '$.review' as review_text,
        payload ->> '$.reviewResponse' as review_response,
        cast(payload ->> '$.reviewType' as integer) as review_type,
        payload ->> '$.technicianFullName' as technician_full_name,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_decimal("payload ->> '$.rating'", 6) }} as rating,

        -- flags
        {{ st_bool("payload ->> '$.isAutoVerified'") }} as is_auto_verified,
        {{ st_bool("payload ->> '$.verificationStatus'") }} as is_verified,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.completedDate'") }} as completed_at,
        {{ st_timestamp("payload ->> '$.dispatchedDate'") }} as dispatched_at,
        {{ st_timestamp("payload ->> '$.publishDate'") }} as published_at,
        {{ st_timestamp("payload ->> '$.verifiedOn'") }} as verified_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
