with

source as (

    select * from {{ source('servicetitan', 'job_types') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as job_type_id,

        -- attributes
        payload ->> '$.name' as job_type_name,
        payload ->> '$.class' as job_class,
        payload ->> '$.priority' as default_priority,
        payload ->> '$.summary' as summary,
        {{ st_id("payload ->> '$.duration'") }} as duration_seconds,
        {{ st_money("payload ->> '$.soldThreshold'") }} as sold_threshold,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.noCharge'") }} as is_no_charge,
        {{ st_bool("payload ->> '$.isSmartDispatched'") }} as is_smart_dispatched,
        {{ st_bool("payload ->> '$.invoiceSignaturesRequired'") }} as invoice_signatures_required,

        -- json
        {{ st_id_list("payload -> '$.businessUnitIds'") }} as business_unit_ids,
        payload -> '$.skills' as skills,
        payload -> '$.tagTypeIds' as tag_type_ids,
        payload -> '$.externalData' as external_data,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
