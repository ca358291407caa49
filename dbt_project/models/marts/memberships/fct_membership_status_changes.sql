{#
    The status history of every membership, ordered: each change with the status before and
    after it, its position in the membership's history and when the next change replaced it
    (so `[changed_at, next_changed_at)` is the time the membership held `status_after`).
#}

with

status_changes as (

    select * from {{ ref('stg_servicetitan__membership_status_changes') }}

),

memberships as (

    select * from {{ ref('stg_servicetitan__memberships') }}

),

ordered as (

    select
        status_changes.tenant_id,
        status_changes.membership_status_change_id,
        status_changes.membership_id,
        memberships.membership_type_id,
        status_changes.created_by_id,
        status_changes.old_status as status_before,
        status_changes.new_status as status_after,
        status_changes.note,
        status_changes.created_at as changed_at,
        {{ st_utc_date('status_changes.created_at') }} as changed_date,
        -- the id breaks ties between changes recorded at the same instant (ids increase)
        row_number() over (
            partition by status_changes.tenant_id, status_changes.membership_id
            order by status_changes.created_at, status_changes.membership_status_change_id
        ) as change_sequence,
        lead(status_changes.created_at) over (
            partition by status_changes.tenant_id, status_changes.membership_id
            order by status_changes.created_at, status_changes.membership_status_change_id
        ) as next_changed_at,
        status_changes.loaded_at
    from status_changes
    {{ join_within_tenant('status_changes', 'memberships', 'membership_id') }}

),

final as (

    select
        tenant_id,
        membership_status_change_id,
        membership_id,
        membership_type_id,
        created_by_id,
        change_sequence,
        status_before,
        status_after,
        note,
        next_changed_at is null as is_latest_change,
        changed_at,
        changed_date,
        next_changed_at,
        loaded_at
    from ordered

)

{{ select_with_connection_name('final') }}
