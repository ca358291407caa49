{#
    Customers' ratings of the technicians on their jobs. The records have no id: the raw layer
    keys them by (jobId, technicianId), stored as its `id` and `id_2`. The technician is read
    from the payload (the same value as `id_2`), so that the view does not depend on how the
    raw table spells its second key column.
#}

with

source as (

    select * from {{ source('servicetitan', 'technician_ratings') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as job_id,
        {{ st_id("payload ->> '$.technicianId'") }} as technician_id,

        -- attributes: 0-10, a JSON number the spec types as double; its text is cast to a
        -- DECIMAL with six places (the project's rule for doubles: no floating point columns)
        {{ st_decimal("payload ->> '$.rating'", 6) }} as rating,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
