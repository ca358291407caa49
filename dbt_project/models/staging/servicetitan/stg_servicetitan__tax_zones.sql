with

source as (

    select * from {{ source('servicetitan', 'tax_zones') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as tax_zone_id,

        -- attributes
        cast(payload ->> '$.color' as integer) as color,
        payload ->> '$.name' as tax_zone_name,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isMultipleTaxZone'") }} as is_multiple_tax_zone,
        {{ st_bool("payload ->> '$.isTaxRateSeparated'") }} as is_tax_rate_separated,

        -- json
        payload -> '$.rates' as rates,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
