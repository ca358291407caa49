with

source as (

    select * from {{ source('servicetitan', 'arrival_windows') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as arrival_window_id,

        -- attributes
        {{ st_timespan_seconds("payload ->> '$.duration'") }} as duration_seconds,
        {{ st_timespan_seconds("payload ->> '$.start'") }} as start_time_seconds,

        -- flags
        active as is_active,

        -- json
        {{ st_id_list("payload -> '$.businessUnitIds'") }} as business_unit_ids,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
