with

source as (

    select * from {{ source('servicetitan', 'recurring_service_types') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as recurring_service_type_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.campaignId'") }} as campaign_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,
        {{ st_id("payload ->> '$.invoiceTemplateId'") }} as invoice_template_id,
        {{ st_id("payload ->> '$.jobTypeId'") }} as job_type_id,

        -- attributes
        cast(payload ->> '$.durationLength' as integer) as duration_length,
        payload ->> '$.durationType' as duration_type,
        payload ->> '$.importId' as import_id,
        payload ->> '$.jobSummary' as job_summary,
        payload ->> '$.name' as recurring_service_type_name,
        payload ->> '$.priority' as priority,
        cast(payload ->> '$.recurrenceInterval' as integer) as recurrence_interval,
        payload ->> '$.recurrenceType' as recurrence_type,

        -- flags
        active as is_active,

        -- json
        {{ st_text_list("payload -> '$.recurrenceMonths'") }} as recurrence_months,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
