with

source as (

    select * from {{ source('servicetitan', 'job_splits') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as job_split_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.technicianId'") }} as technician_id,

        -- The technician's share of the job's revenue credit, in percent: the active splits
        -- of a job sum to 100. A JSON number, its text cast exactly (never through DOUBLE).
        {{ st_decimal("payload ->> '$.split'") }} as split_percent,

        -- flags
        active as is_active,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
