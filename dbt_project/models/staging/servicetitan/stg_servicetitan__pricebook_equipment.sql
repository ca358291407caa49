with

source as (

    select * from {{ source('servicetitan', 'pricebook_equipment') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as pricebook_equipment_id,
        {{ st_id("payload ->> '$.generalLedgerAccountId'") }} as general_ledger_account_id,
        {{ st_id("payload ->> '$.primaryVendor.id'") }} as primary_sku_vendor_id,
        {{ st_id("payload ->> '$.primaryVendor.vendorId'") }} as primary_vendor_id,
        {{ st_id("payload ->> '$.typeId'") }} as equipment_type_id,

        -- attributes
        payload ->> '$.account' as income_account,
        payload ->> '$.assetAccount' as asset_account,
        payload ->> '$.budgetCostCode' as budget_cost_code,
        payload ->> '$.budgetCostType' as budget_cost_type,
        payload ->> '$.code' as pricebook_equipment_code,
        payload ->> '$.costOfSaleAccount' as cost_of_sale_account,
        payload ->> '$.crossSaleGroup' as cross_sale_group,
        payload ->> '$.defaultAssetUrl' as default_asset_url,
        payload ->> '$.description' as pricebook_equipment_description,
        payload ->> '$.displayName' as display_name,
        payload ->> '$.externalId' as external_id,
        payload ->> '$.manufacturer' as manufacturer,
        payload ->> '$.manufacturerWarranty.description' as manufacturer_warranty_description,
        cast(payload ->> '$.manufacturerWarranty.duration' as integer)
            as manufacturer_warranty_duration,
        payload ->> '$.model' as equipment_model,
        payload ->> '$.primaryVendor.memo' as primary_vendor_memo,
        payload ->> '$.primaryVendor.vendorName' as primary_vendor_name,
        payload ->> '$.primaryVendor.vendorPart' as primary_vendor_part_number,
        payload ->> '$.serviceProviderWarranty.description'
            as service_provider_warranty_description,
        cast(payload ->> '$.serviceProviderWarranty.duration' as integer)
            as service_provider_warranty_duration,
        payload ->> '$.source' as pricebook_equipment_source,
        payload ->> '$.unitOfMeasure' as unit_of_measure,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_money("payload ->> '$.addOnMemberPrice'") }} as add_on_member_price,
        {{ st_money("payload ->> '$.addOnPrice'") }} as add_on_price,
        {{ st_money("payload ->> '$.bonus'") }} as bonus,
        {{ st_money("payload ->> '$.commissionBonus'") }} as commission_bonus,
        {{ st_money("payload ->> '$.cost'") }} as unit_cost,
        {{ st_decimal("payload ->> '$.dimensions.depth'") }} as dimensions_depth,
        {{ st_decimal("payload ->> '$.dimensions.height'") }} as dimensions_height,
        {{ st_decimal("payload ->> '$.dimensions.width'") }} as dimensions_width,
        {{ st_decimal("payload ->> '$.hours'") }} as hours,
        {{ st_money("payload ->> '$.memberPrice'") }} as member_price,
        {{ st_money("payload ->> '$.price'") }} as unit_price,
        {{ st_money("payload ->> '$.primaryVendor.cost'") }} as primary_vendor_unit_cost,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.displayInAmount'") }} as is_display_in_amount,
        {{ st_bool("payload ->> '$.isConfigurableEquipment'") }} as is_configurable_equipment,
        {{ st_bool("payload ->> '$.isInventory'") }} as is_inventory,
        {{ st_bool("payload ->> '$.paysCommission'") }} as is_commission_paid,
        {{ st_bool("payload ->> '$.primaryVendor.active'") }} as is_primary_vendor_active,
        {{ st_bool("payload ->> '$.taxable'") }} as is_taxable,

        -- json
        payload -> '$.assets' as assets,
        {{ st_id_list("payload -> '$.categories'") }} as category_ids,
        payload -> '$.equipmentMaterials' as equipment_materials,
        payload -> '$.externalData' as external_data,
        payload -> '$.otherVendors' as other_vendors,
        payload -> '$.primaryVendor.otherSubAccounts' as primary_vendor_other_sub_accounts,
        payload -> '$.primaryVendor.primarySubAccount' as primary_vendor_primary_sub_account,
        payload -> '$.recommendations' as recommendations,
        {{ st_id_list("payload -> '$.upgrades'") }} as upgrade_ids,
        {{ st_id_list("payload -> '$.variationsOrConfigurableEquipment'") }}
            as variations_or_configurable_equipment_ids,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
