with

source as (

    select * from {{ source('servicetitan', 'job_hold_reasons') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as job_hold_reason_id,

        -- attributes
        payload ->> '$.name' as job_hold_reason_name,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
