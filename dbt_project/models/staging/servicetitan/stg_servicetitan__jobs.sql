with

source as (

    select * from {{ source('servicetitan', 'jobs') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as job_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.locationId'") }} as location_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.jobTypeId'") }} as job_type_id,
        {{ st_id("payload ->> '$.campaignId'") }} as campaign_id,
        -- The technician credited with selling the job ("Sold By" in ServiceTitan).
        {{ st_id("payload ->> '$.soldById'") }} as sold_by_technician_id,
        {{ st_id("payload ->> '$.invoiceId'") }} as invoice_id,
        {{ st_id("payload ->> '$.projectId'") }} as project_id,
        {{ st_id("payload ->> '$.membershipId'") }} as membership_id,
        {{ st_id("payload ->> '$.firstAppointmentId'") }} as first_appointment_id,
        {{ st_id("payload ->> '$.lastAppointmentId'") }} as last_appointment_id,
        {{ st_id("payload ->> '$.recallForId'") }} as recall_for_job_id,
        {{ st_id("payload ->> '$.warrantyId'") }} as warranty_id,
        {{ st_id("payload ->> '$.bookingId'") }} as booking_id,
        {{ st_id("payload ->> '$.leadCallId'") }} as lead_call_id,
        {{ st_id("payload ->> '$.createdFromEstimateId'") }} as created_from_estimate_id,
        {{ st_id("payload ->> '$.jobGeneratedLeadSource.jobId'") }} as lead_source_job_id,
        {{ st_id("payload ->> '$.jobGeneratedLeadSource.employeeId'") }} as lead_source_employee_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,

        -- attributes
        payload ->> '$.jobNumber' as job_number,
        payload ->> '$.jobStatus' as job_status,
        payload ->> '$.priority' as priority,
        payload ->> '$.summary' as summary,
        payload ->> '$.customerPo' as customer_po,
        {{ st_id("payload ->> '$.appointmentCount'") }} as appointment_count,
        -- The job total as ServiceTitan's job module reports it (a JSON number). Revenue in the
        -- marts comes from invoices, which are exact strings; this is for reference only.
        {{ st_money("payload ->> '$.total'") }} as job_total,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.noCharge'") }} as is_no_charge,
        {{ st_bool("payload ->> '$.notificationsEnabled'") }} as are_notifications_enabled,
        {{ st_id("payload ->> '$.recallForId'") }} is not null as is_recall,

        -- json
        {{ st_id_list("payload -> '$.tagTypeIds'") }} as tag_type_ids,
        {{ st_id_list("payload -> '$.estimateIds'") }} as estimate_ids,
        payload -> '$.customFields' as custom_fields,
        payload -> '$.externalData' as external_data,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.completedOn'") }} as completed_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
