with

source as (

    select * from {{ source('servicetitan', 'recurring_services') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as recurring_service_id,
        {{ st_id("payload ->> '$.activatedFromId'") }} as activated_from_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.campaignId'") }} as campaign_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,
        {{ st_id("payload ->> '$.invoiceTemplateForFollowingYearsId'") }}
            as invoice_template_for_following_years_id,
        {{ st_id("payload ->> '$.invoiceTemplateId'") }} as invoice_template_id,
        {{ st_id("payload ->> '$.jobTypeId'") }} as job_type_id,
        {{ st_id("payload ->> '$.locationId'") }} as location_id,
        {{ st_id("payload ->> '$.membershipId'") }} as membership_id,
        {{ st_id("payload ->> '$.recurringServiceTypeId'") }} as recurring_service_type_id,

        -- attributes
        cast(payload ->> '$.durationLength' as integer) as duration_length,
        payload ->> '$.durationType' as duration_type,
        payload ->> '$.importId' as import_id,
        {{ st_timespan_seconds("payload ->> '$.jobStartTime'") }} as job_start_time_seconds,
        payload ->> '$.jobSummary' as job_summary,
        payload ->> '$.memo' as memo,
        payload ->> '$.name' as recurring_service_name,
        payload ->> '$.priority' as priority,
        payload ->> '$.recurrenceDayOfNthWeek' as recurrence_day_of_nth_week,
        cast(payload ->> '$.recurrenceInterval' as integer) as recurrence_interval,
        payload ->> '$.recurrenceType' as recurrence_type,
        payload ->> '$.recurrenceWeek' as recurrence_week,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_decimal("payload ->> '$.allocation'") }} as allocation,
        {{ st_money("payload ->> '$.estimatedPayrollCost'") }} as estimated_payroll_cost,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.firstVisitComplete'") }} as is_first_visit_complete,

        -- json
        {{ st_id_list("payload -> '$.preferredTechnicianIds'") }} as preferred_technician_ids,
        {{ st_id_list("payload -> '$.recurrenceDaysOfMonth'") }} as recurrence_days_of_month,
        {{ st_text_list("payload -> '$.recurrenceDaysOfWeek'") }} as recurrence_days_of_week,
        {{ st_text_list("payload -> '$.recurrenceMonths'") }} as recurrence_months,
        {{ st_id_list("payload -> '$.tagTypeIds'") }} as tag_type_ids,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.from'") }} as active_from_at,
        {{ st_timestamp("payload ->> '$.to'") }} as active_to_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
