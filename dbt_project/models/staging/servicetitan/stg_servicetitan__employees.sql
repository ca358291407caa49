with

source as (

    select * from {{ source('servicetitan', 'employees') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as employee_id,
        {{ st_id("payload ->> '$.agentId'") }} as agent_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.managerId'") }} as manager_id,
        {{ st_id("payload ->> '$.overtimeProfileId'") }} as overtime_profile_id,
        {{ st_id("payload ->> '$.userId'") }} as user_id,

        -- attributes
        payload ->> '$.aadUserId' as aad_user_id,
        payload ->> '$.email' as email,
        payload ->> '$.firstName' as first_name,
        {{ st_address('$.home', 'home') }},
        payload ->> '$.lastName' as last_name,
        payload ->> '$.loginName' as login_name,
        payload ->> '$.name' as employee_name,
        payload ->> '$.phoneNumber' as phone_number,
        payload ->> '$.role' as employee_role,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_decimal("payload ->> '$.hourlyRate'") }} as hourly_rate,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.accountLocked'") }} as is_account_locked,

        -- json
        payload -> '$.customFields' as custom_fields,
        payload -> '$.permissions' as permissions,
        {{ st_id_list("payload -> '$.roleIds'") }} as role_ids,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.startDate'") }} as started_at,
        {{ st_timestamp("payload ->> '$.terminationDate'") }} as terminated_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
