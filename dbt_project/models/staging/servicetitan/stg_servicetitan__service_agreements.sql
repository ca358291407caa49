with

source as (

    select * from {{ source('servicetitan', 'service_agreements') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as service_agreement_id,
        {{ st_id("payload ->> '$.accountManagerId'") }} as account_manager_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.modifiedById'") }} as modified_by_id,
        {{ st_id("payload ->> '$.paymentMethodId'") }} as payment_method_id,
        {{ st_id("payload ->> '$.paymentTermId'") }} as payment_term_id,
        {{ st_id("payload ->> '$.rateSheetId'") }} as rate_sheet_id,
        {{ st_id("payload ->> '$.renewalAgreementId'") }} as renewal_agreement_id,
        {{ st_id("payload ->> '$.soldById'") }} as sold_by_id,
        {{ st_id("payload ->> '$.templateFields.billingServiceId'") }}
            as template_fields_billing_service_id,
        {{ st_id("payload ->> '$.templateFields.defaultCampaignId'") }}
            as template_fields_default_campaign_id,
        {{ st_id("payload ->> '$.templateFields.defaultDocumentTemplateId'") }}
            as template_fields_default_document_template_id,
        {{ st_id("payload ->> '$.templateFields.defaultRateSheetId'") }}
            as template_fields_default_rate_sheet_id,
        {{ st_id("payload ->> '$.templateFields.generalLedgerAccountId'") }}
            as template_fields_general_ledger_account_id,
        {{ st_id("payload ->> '$.templateFields.negativeLiabilityServiceId'") }}
            as template_fields_negative_liability_service_id,
        {{ st_id("payload ->> '$.templateFields.originalTemplateId'") }}
            as template_fields_original_template_id,
        {{ st_id("payload ->> '$.templateFields.positiveIncomeServiceId'") }}
            as template_fields_positive_income_service_id,

        -- attributes
        payload ->> '$.billingSchedule' as billing_schedule,
        cast(payload ->> '$.durationMonths' as integer) as duration_months,
        {{ st_date("payload ->> '$.endDate'") }} as end_date,
        payload ->> '$.importId' as import_id,
        payload ->> '$.name' as service_agreement_name,
        payload ->> '$.origin' as origin,
        {{ st_date("payload ->> '$.startDate'") }} as start_date,
        payload ->> '$.status' as service_agreement_status,
        payload ->> '$.summary' as service_agreement_summary,
        payload ->> '$.templateFields.billingScheduleType' as template_fields_billing_schedule_type,
        payload ->> '$.templateFields.defaultPricingStrategy'
            as template_fields_default_pricing_strategy,
        payload ->> '$.templateFields.defaultTargetMarginValueType'
            as template_fields_default_target_margin_value_type,
        payload ->> '$.templateFields.invoiceCancellationMode'
            as template_fields_invoice_cancellation_mode,
        payload ->> '$.templateFields.revenueRecognitionMode'
            as template_fields_revenue_recognition_mode,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_money("payload ->> '$.estimatedGrossMarginAmount'") }}
            as estimated_gross_margin_amount,
        {{ st_decimal("payload ->> '$.estimatedGrossMarginPercentage'") }}
            as estimated_gross_margin_percentage,
        {{ st_money("payload ->> '$.estimatedLaborCost'") }} as estimated_labor_cost,
        {{ st_money("payload ->> '$.estimatedMaterialCost'") }} as estimated_material_cost,
        {{ st_money("payload ->> '$.estimatedTravelCost'") }} as estimated_travel_cost,
        {{ st_money("payload ->> '$.importedDeferredAmount'") }} as imported_deferred_amount,
        {{ st_money("payload ->> '$.importedRecognizedAmount'") }} as imported_recognized_amount,
        {{ st_decimal("payload ->> '$.laborMarkupPercentage'") }} as labor_markup_percentage,
        {{ st_money("payload ->> '$.laborSurcharge'") }} as labor_surcharge,
        {{ st_decimal("payload ->> '$.materialMarkupPercentage'") }} as material_markup_percentage,
        {{ st_money("payload ->> '$.materialSurcharge'") }} as material_surcharge,
        {{ st_money("payload ->> '$.templateFields.defaultExtraTravelCostPerHour'") }}
            as template_fields_default_extra_travel_cost_per_hour,
        {{ st_money("payload ->> '$.templateFields.defaultFlatPrice'") }}
            as template_fields_default_flat_price,
        {{ st_money("payload ->> '$.templateFields.defaultLaborCostPerHour'") }}
            as template_fields_default_labor_cost_per_hour,
        {{ st_decimal("payload ->> '$.templateFields.defaultLaborMarkupPercentage'") }}
            as template_fields_default_labor_markup_percentage,
        {{ st_money("payload ->> '$.templateFields.defaultLaborSurcharge'") }}
            as template_fields_default_labor_surcharge,
        {{ st_decimal("payload ->> '$.templateFields.defaultMarkupPercentage'") }}
            as template_fields_default_markup_percentage,
        {{ st_decimal("payload ->> '$.templateFields.defaultMaterialMarkupPercentage'") }}
            as template_fields_default_material_markup_percentage,
        {{ st_money("payload ->> '$.templateFields.defaultMaterialSurcharge'") }}
            as template_fields_default_material_surcharge,
        {{ st_money("payload ->> '$.templateFields.defaultSurcharge'") }}
            as template_fields_default_surcharge,
        {{ st_decimal("payload ->> '$.templateFields.defaultTargetMarginValue'") }}
            as template_fields_default_target_margin_value,
        {{ st_money("payload ->> '$.totalAgreementPrice'") }} as total_agreement_price,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.autoRenew'") }} as is_auto_renew,
        {{ st_bool("payload ->> '$.templateFields.defaultAutoRenew'") }}
            as is_template_default_auto_renew,

        -- json
        {{ st_id_list("payload -> '$.locationIds'") }} as location_ids,
        {{ st_id_list("payload -> '$.tagTypeIds'") }} as tag_type_ids,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
