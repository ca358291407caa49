with

source as (

    select * from {{ source('servicetitan', 'teams') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as team_id,
        {{ st_id("payload ->> '$.createdBy'") }} as created_by_id,

        -- attributes
        payload ->> '$.name' as team_name,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
