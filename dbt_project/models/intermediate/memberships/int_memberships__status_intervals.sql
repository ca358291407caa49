{#
    Which status each membership held on which days: one row per stretch between status
    changes, `[valid_from_date, valid_to_date)` (NULL bounds are open). Before its first change a
    membership held that change's `status_before`; after its last change it holds its current
    `membership_status` (the membership record is what the API says now, so it wins over a
    history that a later sync has not completed yet); a membership without changes held its
    current status throughout. Several changes on one day leave zero-length stretches for all
    but the last, so the status at the end of any day is exactly one row's.
#}

with

memberships as (

    select * from {{ ref('fct_memberships') }}

),

status_changes as (

    select * from {{ ref('fct_membership_status_changes') }}

),

before_first_change as (

    select
        tenant_id,
        membership_id,
        cast(null as date) as valid_from_date,
        changed_date as valid_to_date,
        status_before as membership_status
    from status_changes
    where change_sequence = 1

),

after_each_change as (

    select
        status_changes.tenant_id,
        status_changes.membership_id,
        status_changes.changed_date as valid_from_date,
        {{ st_utc_date('status_changes.next_changed_at') }} as valid_to_date,
        case
            when status_changes.is_latest_change then memberships.membership_status
            else status_changes.status_after
        end as membership_status
    from status_changes
    {{ join_within_tenant('status_changes', 'memberships', 'membership_id', join_type='inner') }}

),

without_changes as (

    select
        tenant_id,
        membership_id,
        cast(null as date) as valid_from_date,
        cast(null as date) as valid_to_date,
        membership_status
    from memberships
    where status_change_count = 0

),

unioned as (

    select * from before_first_change
    union all
    select * from after_each_change
    union all
    select * from without_changes

)

select * from unioned
