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
        payload ->> '$.phoneSettings.phoneNumber' as phone_settings_phone_number,
        payload ->> '$.type' as location_contact_type,
        payload ->> '$.value' as location_contact_value,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.phoneSettings.doNotText'") }} as is_phone_settings_do_not_text,
        {{ st_bool("payload ->> '$.preferences.invoiceStatementNotification'") }}
            as is_preferences_invoice_statement_notification,
        {{ st_bool("payload ->> '$.preferences.jobRemindersEnabled'") }}
            as is_preferences_job_reminders_enabled,
        {{ st_bool("payload ->> '$.preferences.marketingUpdatesEnabled'") }}
            as is_preferences_marketing_updates_enabled,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
