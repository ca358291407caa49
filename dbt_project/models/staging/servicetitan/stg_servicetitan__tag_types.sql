with

source as (

    select * from {{ source('servicetitan', 'tag_types') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as tag_type_id,

        -- attributes
        payload ->> '$.code' as tag_type_code,
        payload ->> '$.color' as color,
        payload ->> '$.importance' as importance,
        payload ->> '$.name' as tag_type_name,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.allowToUseOnTimesheetActivity'") }}
            as is_allowed_on_timesheet_activities,
        {{ st_bool("payload ->> '$.isConversionOpportunity'") }} as is_conversion_opportunity,
        {{ st_bool("payload ->> '$.isVisibleOnDispatchBoard'") }} as is_visible_on_dispatch_board,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
