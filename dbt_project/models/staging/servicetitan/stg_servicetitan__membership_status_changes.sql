{#
    Status changes of memberships are immutable: no modifiedOn (the raw layer orders them by
    createdOn, so `modified_at` is their creation time) and no active flag.
#}

with

source as (

    select * from {{ source('servicetitan', 'membership_status_changes') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as membership_status_change_id,
        {{ st_id("payload ->> '$.membershipId'") }} as membership_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,

        -- attributes
        payload ->> '$.oldStatus' as old_status,
        payload ->> '$.newStatus' as new_status,
        payload ->> '$.note' as note,

        -- timestamps (UTC): created_at is when the status changed
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
