with

source as (

    select * from {{ source('servicetitan', 'estimates') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as estimate_id,
        {{ st_id("payload ->> '$.jobId'") }} as job_id,
        {{ st_id("payload ->> '$.projectId'") }} as project_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.locationId'") }} as location_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.budgetCodeId'") }} as budget_code_id,
        -- The technician credited with selling the estimate (`soldBy`): close rate by seller.
        {{ st_id("payload ->> '$.soldBy'") }} as sold_by_technician_id,

        -- attributes
        payload ->> '$.name' as estimate_name,
        payload ->> '$.jobNumber' as job_number,
        payload ->> '$.businessUnitName' as business_unit_name,
        payload ->> '$.summary' as summary,
        payload ->> '$.proposalTagName' as proposal_tag_name,
        -- Open, Sold or Dismissed: what close rate counts.
        payload ->> '$.status.name' as estimate_status,
        cast(payload ->> '$.status.value' as integer) as estimate_status_value,
        payload ->> '$.reviewStatus' as review_status,
        coalesce(json_array_length(payload -> '$.items'), 0) as item_count,

        -- money. The sales module sends JSON numbers: their text is cast to DECIMAL(18,2),
        -- never through DOUBLE, as the CRM's balances are.
        {{ st_money("payload ->> '$.subtotal'") }} as subtotal,
        {{ st_money("payload ->> '$.tax'") }} as tax,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isRecommended'") }} as is_recommended,
        {{ st_bool("payload ->> '$.isChangeOrder'") }} as is_change_order,

        -- json (items are unnested in stg_servicetitan__estimate_items)
        payload -> '$.externalLinks' as external_links,

        -- timestamps (UTC)
        {{ st_timestamp("payload ->> '$.soldOn'") }} as sold_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
