with

source as (

    select * from {{ source('servicetitan', 'payment_types') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as payment_type_id,

        -- attributes
        payload ->> '$.name' as payment_type_name,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
