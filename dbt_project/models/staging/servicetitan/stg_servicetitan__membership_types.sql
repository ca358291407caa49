with

source as (

    select * from {{ source('servicetitan', 'membership_types') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as membership_type_id,
        {{ st_id("payload ->> '$.billingTemplateId'") }} as billing_template_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,

        -- attributes
        payload ->> '$.discountMode' as discount_mode,
        payload ->> '$.displayName' as display_name,
        payload ->> '$.importId' as import_id,
        payload ->> '$.locationTarget' as location_target,
        payload ->> '$.name' as membership_type_name,
        payload ->> '$.revenueRecognitionMode' as revenue_recognition_mode,

        -- quantities and money, exact from ServiceTitan's text
        -- A discount rate, not an amount: how it applies is `discount_mode`.
        {{ st_decimal("payload ->> '$.discount'") }} as discount,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.autoCalculateInvoiceTemplates'") }}
            as are_invoice_templates_auto_calculated,
        {{ st_bool("payload ->> '$.showMembershipSavings'") }} as is_membership_savings_shown,
        {{ st_bool("payload ->> '$.useMembershipPricingTable'") }}
            as is_membership_pricing_table_used,

        -- json
        payload -> '$.discounts' as discounts,
        payload -> '$.durationBilling' as duration_billing,
        payload -> '$.recurringServices' as recurring_services,
        {{ st_id_list("payload -> '$.tagTypeIds'") }} as tag_type_ids,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
