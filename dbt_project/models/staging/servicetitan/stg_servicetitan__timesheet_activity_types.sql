with

source as (

    select * from {{ source('servicetitan', 'timesheet_activity_types') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as timesheet_activity_type_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.categoryId'") }} as activity_category_id,
        {{ st_id("payload ->> '$.laborTypeId'") }} as labor_type_id,

        -- attributes
        payload ->> '$.budgetCodeAssociation' as budget_code_association,
        payload ->> '$.code' as timesheet_activity_type_code,
        payload ->> '$.defaultMemo' as default_memo,
        payload ->> '$.description' as timesheet_activity_type_description,
        payload ->> '$.icon' as icon,
        payload ->> '$.jobAssociation' as job_association,
        payload ->> '$.laborTypeAssociation' as labor_type_association,
        payload ->> '$.memoAssociation' as memo_association,
        payload ->> '$.projectAssociation' as project_association,
        payload ->> '$.projectLabelAssociation' as project_label_association,
        payload ->> '$.tagAssociation' as tag_association,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.dontAllowToChangeMemo'") }} as is_memo_locked,
        {{ st_bool("payload ->> '$.dontAllowToChangeTag'") }} as is_tag_locked,
        {{ st_bool("payload ->> '$.isArchived'") }} as is_archived,
        {{ st_bool("payload ->> '$.isDefault'") }} as is_default,
        {{ st_bool("payload ->> '$.isDraft'") }} as is_draft,
        {{ st_bool("payload ->> '$.isInUse'") }} as is_in_use,
        {{ st_bool("payload ->> '$.isTechnicianProfileLaborType'") }}
            as is_technician_profile_labor_type,
        {{ st_bool("payload ->> '$.isUsersHomeBusinessUnit'") }} as is_users_home_business_unit,

        -- json
        {{ st_id_list("payload -> '$.defaultTagTypeIds'") }} as default_tag_type_ids,
        {{ st_id_list("payload -> '$.visibleToRoles'") }} as visible_to_role_ids,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
