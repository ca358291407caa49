with

source as (

    select * from {{ source('servicetitan', 'pricebook_categories') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as pricebook_category_id,
        {{ st_id("payload ->> '$.parentId'") }} as parent_category_id,

        -- attributes
        payload ->> '$.categoryType' as category_type,
        payload ->> '$.description' as pricebook_category_description,
        payload ->> '$.externalId' as external_id,
        payload ->> '$.image' as image,
        payload ->> '$.name' as pricebook_category_name,
        cast(payload ->> '$.position' as integer) as pricebook_category_position,
        payload ->> '$.source' as pricebook_category_source,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.hideInMobile'") }} as is_hidden_in_mobile,

        -- json
        {{ st_id_list("payload -> '$.businessUnitIds'") }} as business_unit_ids,
        {{ st_text_list("payload -> '$.skuImages'") }} as sku_images,
        {{ st_text_list("payload -> '$.skuVideos'") }} as sku_videos,
        payload -> '$.subcategories' as subcategories,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
