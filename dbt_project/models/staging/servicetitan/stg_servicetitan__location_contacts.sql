with

source as (

    select * from {{ source('servicetitan', 'location_contacts') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as location_contact_id,
        {{ st_id("payload ->> '$.locationId'") }} as location_id,

        -- attributes
        payload ->> '$.memo' as memo,
        payload ->> '$.phoneSettings.phoneNumber' as phone_number,
        payload ->> '$.type' as contact_type,
        payload ->> '$.value' as contact_value,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.phoneSettings.doNotText'") }} as is_do_not_text,
        {{ st_bool("payload ->> '$.preferences.invoiceStatementNotification'") }}
            as is_invoice_statement_notification_enabled,
        {{ st_bool("payload ->> '$.preferences.jobRemindersEnabled'") }}
            as are_job_reminders_enabled,
        {{ st_bool("payload ->> '$.preferences.marketingUpdatesEnabled'") }}
            as are_marketing_updates_enabled,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
