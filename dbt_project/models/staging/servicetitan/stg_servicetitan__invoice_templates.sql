with

source as (

    select * from {{ source('servicetitan', 'invoice_templates') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as invoice_template_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,

        -- attributes
        payload ->> '$.importId' as import_id,
        payload ->> '$.name' as invoice_template_name,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_money("payload ->> '$.total'") }} as total,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isSettingsTemplate'") }} as is_settings_template,

        -- json
        payload -> '$.items' as items,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
