with

source as (

    select * from {{ source('servicetitan', 'gl_accounts') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as gl_account_id,

        -- attributes
        payload ->> '$.defaultAccountType' as default_account_type,
        payload ->> '$.description' as gl_account_description,
        payload ->> '$.name' as gl_account_name,
        payload ->> '$.number' as gl_account_number,
        payload ->> '$.source' as gl_account_source,
        payload ->> '$.subtype' as subtype,
        payload ->> '$.type' as gl_account_type,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isIntacctBankAccount'") }} as is_intacct_bank_account,
        {{ st_bool("payload ->> '$.isIntacctGroup'") }} as is_intacct_group,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
