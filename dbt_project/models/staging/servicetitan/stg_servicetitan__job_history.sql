{#
    One row per job: the job's history as ServiceTitan exports it ({jobId, history[]}). The
    record has no id, modifiedOn, createdOn or active flag of its own: the raw layer keys it by
    jobId and a changed history is a newer version. The entries themselves are in
    stg_servicetitan__job_history_events, one row each.
#}

with

source as (

    select * from {{ source('servicetitan', 'job_history') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as job_id,

        -- attributes
        coalesce(json_array_length(payload -> '$.history'), 0) as event_count,

        -- json (the entries are unnested in stg_servicetitan__job_history_events)
        payload -> '$.history' as history,

        -- timestamps (UTC): the first and last entry's, by their dates (not their order)
        list_min(list_transform(
            cast(payload -> '$.history' as json[]),
            lambda entry: {{ st_timestamp("entry ->> '$.date'") }}
        )) as first_event_at,
        list_max(list_transform(
            cast(payload -> '$.history' as json[]),
            lambda entry: {{ st_timestamp("entry ->> '$.date'") }}
        )) as last_event_at,

        -- lineage
        _connection as connection_name,
        _loaded_at as loaded_at

    from source

)

select * from renamed
