with

source as (

    select * from {{ source('servicetitan', 'project_notes') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as project_note_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,
        {{ st_id("payload ->> '$.projectId'") }} as project_id,

        -- attributes
        payload ->> '$.text' as note_text,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isPinned'") }} as is_pinned,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
