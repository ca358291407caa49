with

source as (

    select * from {{ source('servicetitan', 'timesheet_activity_categories') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as timesheet_activity_category_id,

        -- attributes
        payload ->> '$.name' as timesheet_activity_category_name,
        payload ->> '$.type' as timesheet_activity_category_type,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.allowEdit'") }} as is_editable,
        {{ st_bool("payload ->> '$.isDefault'") }} as is_default,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
