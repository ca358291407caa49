with

source as (

    select * from {{ source('servicetitan', 'campaign_categories') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as campaign_category_id,

        -- attributes
        payload ->> '$.name' as campaign_category_name,
        payload ->> '$.type' as campaign_category_type,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
