with

source as (

    select * from {{ source('servicetitan', 'warehouses') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as warehouse_id,
        {{ st_id("payload ->> '$.inventoryTemplateId'") }} as inventory_template_id,

        -- attributes
        {{ st_address('$.address', 'address') }},
        payload ->> '$.name' as warehouse_name,

        -- flags
        active as is_active,

        -- json
        payload -> '$.externalData' as external_data,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
