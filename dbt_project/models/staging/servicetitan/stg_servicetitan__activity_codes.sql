with

source as (

    select * from {{ source('servicetitan', 'activity_codes') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as activity_code_id,

        -- attributes
        payload ->> '$.code' as activity_code,
        payload ->> '$.earningCategory' as earning_category,
        payload ->> '$.name' as activity_code_name,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
