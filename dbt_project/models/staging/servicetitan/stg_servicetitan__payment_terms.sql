with

source as (

    select * from {{ source('servicetitan', 'payment_terms') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as payment_term_id,
        {{ st_id("payload ->> '$.interestSettings.id'") }} as interest_settings_id,
        {{ st_id("payload ->> '$.interestSettings.taskId'") }} as interest_settings_task_id,
        {{ st_id("payload ->> '$.paymentTermDiscountModel.id'") }}
            as payment_term_discount_model_id,

        -- attributes
        cast(payload ->> '$.dueDay' as integer) as due_day,
        payload ->> '$.dueDayType' as due_day_type,
        payload ->> '$.interestSettings.chargeMethod' as interest_settings_charge_method,
        payload ->> '$.interestSettings.frequency' as interest_settings_frequency,
        cast(payload ->> '$.interestSettings.gracePeriod' as integer)
            as interest_settings_grace_period,
        payload ->> '$.interestSettings.rateType' as interest_settings_rate_type,
        payload ->> '$.interestSettings.taskDisplayName' as interest_settings_task_display_name,
        payload ->> '$.name' as payment_term_name,
        payload ->> '$.paymentTermDiscountModel.account' as payment_term_discount_model_account,
        payload ->> '$.paymentTermDiscountModel.applyBy' as payment_term_discount_model_apply_by,
        cast(payload ->> '$.paymentTermDiscountModel.applyByValue' as integer)
            as payment_term_discount_model_apply_by_value,
        payload ->> '$.paymentTermDiscountModel.discountApplyTo'
            as payment_term_discount_model_discount_apply_to,
        payload ->> '$.paymentTermDiscountModel.discountType'
            as payment_term_discount_model_discount_type,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_decimal("payload ->> '$.interestSettings.flatRateValue'") }}
            as interest_settings_flat_rate_value,
        {{ st_decimal("payload ->> '$.interestSettings.percentageRateValue'") }}
            as interest_settings_percentage_rate_value,
        {{ st_money("payload ->> '$.paymentTermDiscountModel.discount'") }}
            as payment_term_discount_model_discount,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.inUse'") }} as is_in_use,
        {{ st_bool("payload ->> '$.isCustomerDefault'") }} as is_customer_default,
        {{ st_bool("payload ->> '$.isVendorDefault'") }} as is_vendor_default,

        -- json
        {{ st_text_list("payload -> '$.interestSettings.targetInvoices'") }}
            as interest_settings_target_invoices,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
