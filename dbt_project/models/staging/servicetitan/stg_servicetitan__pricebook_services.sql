with

source as (

    select * from {{ source('servicetitan', 'pricebook_services') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as pricebook_service_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,

        -- attributes
        payload ->> '$.account' as income_account,
        payload ->> '$.budgetCostCode' as budget_cost_code,
        payload ->> '$.budgetCostType' as budget_cost_type,
        payload ->> '$.code' as pricebook_service_code,
        payload ->> '$.crossSaleGroup' as cross_sale_group,
        payload ->> '$.defaultAssetUrl' as default_asset_url,
        payload ->> '$.description' as pricebook_service_description,
        payload ->> '$.displayName' as display_name,
        payload ->> '$.externalId' as external_id,
        payload ->> '$.source' as pricebook_service_source,
        payload ->> '$.warranty.description' as warranty_description,
        cast(payload ->> '$.warranty.duration' as integer) as warranty_duration,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_money("payload ->> '$.addOnMemberPrice'") }} as add_on_member_price,
        {{ st_money("payload ->> '$.addOnPrice'") }} as add_on_price,
        {{ st_money("payload ->> '$.bonus'") }} as bonus,
        {{ st_money("payload ->> '$.commissionBonus'") }} as commission_bonus,
        {{ st_money("payload ->> '$.cost'") }} as unit_cost,
        {{ st_decimal("payload ->> '$.hours'") }} as hours,
        {{ st_money("payload ->> '$.memberPrice'") }} as member_price,
        {{ st_money("payload ->> '$.price'") }} as unit_price,
        {{ st_money("payload ->> '$.soldByCommission'") }} as sold_by_commission,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.isLabor'") }} as is_labor,
        {{ st_bool("payload ->> '$.paysCommission'") }} as is_commission_paid,
        {{ st_bool("payload ->> '$.taxable'") }} as is_taxable,

        -- json
        payload -> '$.assets' as assets,
        payload -> '$.categories' as categories,
        payload -> '$.externalData' as external_data,
        {{ st_id_list("payload -> '$.recommendations'") }} as recommendation_ids,
        payload -> '$.serviceEquipment' as service_equipment,
        payload -> '$.serviceMaterials' as service_materials,
        {{ st_id_list("payload -> '$.upgrades'") }} as upgrade_ids,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
