with

source as (

    select * from {{ source('servicetitan', 'technicians') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as technician_id,
        {{ st_id("payload ->> '$.userId'") }} as user_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.mainZoneId'") }} as main_zone_id,

        -- attributes
        payload ->> '$.name' as technician_name,
        payload ->> '$.firstName' as first_name,
        payload ->> '$.lastName' as last_name,
        payload ->> '$.email' as email,
        payload ->> '$.phoneNumber' as phone_number,
        payload ->> '$.mobilePhone' as mobile_phone,
        payload ->> '$.loginName' as login_name,
        payload ->> '$.team' as team,
        payload ->> '$.status' as technician_status,
        payload ->> '$.licenseType' as license_type,
        payload ->> '$.payrollId' as payroll_id,
        {{ st_decimal("payload ->> '$.dailyGoal'", 2) }} as daily_goal,
        {{ st_decimal("payload ->> '$.burdenRate'", 2) }} as burden_rate,
        {{ st_decimal("payload ->> '$.hourlyRate'", 2) }} as hourly_rate,
        {{ st_decimal("payload ->> '$.commissionRate'") }} as commission_rate,
        {{ st_decimal("payload ->> '$.soldByRate'") }} as sold_by_rate,

        -- home address
        {{ st_address('$.home', 'home') }},

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isManagedTech'") }} as is_managed_tech,
        {{ st_bool("payload ->> '$.accountLocked'") }} as is_account_locked,

        -- json
        {{ st_id_list("payload -> '$.zoneIds'") }} as zone_ids,
        {{ st_id_list("payload -> '$.roleIds'") }} as role_ids,
        payload -> '$.positions' as positions,
        payload -> '$.skills' as skills,
        payload -> '$.customFields' as custom_fields,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.startDate'") }} as started_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
