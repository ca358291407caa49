{#
    One row per entry of a job's history (the job_history record's `history` array): who did
    what to the job, and when. Staged from the same raw table as stg_servicetitan__job_history,
    because the entries ARE the source record: unnesting them is shaping, not business logic.
#}

with

source as (

    select * from {{ source('servicetitan', 'job_history') }}

),

history_lists as (

    select
        source._tenant_id,
        source.id as job_id,
        source._connection,
        source._loaded_at,
        cast(source.payload -> '$.history' as json[]) as history
    from source

),

events as (

    select
        history_lists._tenant_id,
        history_lists.job_id,
        history_lists._connection,
        history_lists._loaded_at,
        -- Position within the history, as sent: the key, since the spec promises nothing about
        -- entry ids being unique.
        generate_subscripts(history_lists.history, 1) as event_index,
        unnest(history_lists.history) as history_entry
    from history_lists

),

renamed as (

    select
        -- keys
        events._tenant_id as tenant_id,
        events.job_id,
        events.event_index,
        {{ st_id("events.history_entry ->> '$.id'") }} as job_history_event_id,
        -- The employee who caused the event; null for the system's own.
        {{ st_id("events.history_entry ->> '$.employeeId'") }} as employee_id,

        -- attributes
        events.history_entry ->> '$.eventType' as event_type,
        events.history_entry ->> '$.usedSchedulingTool' as used_scheduling_tool,

        -- timestamps (UTC)
        {{ st_timestamp("events.history_entry ->> '$.date'") }} as event_at,

        -- lineage
        events._connection as connection_name,
        events._loaded_at as loaded_at

    from events

)

select * from renamed
