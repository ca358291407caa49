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
        {{ st_id("payload ->> '$.interestSettings.taskId'") }} as interest_task_id,
        {{ st_id("payload ->> '$.paymentTermDiscountModel.id'") }} as discount_id,

        -- attributes
        cast(payload ->> '$.dueDay' as integer) as due_day,
        payload ->> '$.dueDayType' as due_day_type,
        payload ->> '$.interestSettings.chargeMethod' as interest_charge_method,
        payload ->> '$.interestSettings.frequency' as interest_frequency,
        cast(payload ->> '$.interestSettings.gracePeriod' as integer)
            as interest_grace_period_days,
        payload ->> '$.interestSettings.rateType' as interest_rate_type,
        payload ->> '$.interestSettings.taskDisplayName' as interest_task_display_name,
        payload ->> '$.name' as payment_term_name,
        payload ->> '$.paymentTermDiscountModel.account' as discount_account,
        payload ->> '$.paymentTermDiscountModel.applyBy' as discount_apply_by,
        cast(payload ->> '$.paymentTermDiscountModel.applyByValue' as integer)
            as discount_apply_by_value,
        payload ->> '$.paymentTermDiscountModel.discountApplyTo' as discount_apply_to,
        payload ->> '$.paymentTermDiscountModel.discountType' as discount_type,

        -- quantities and money, exact from ServiceTitan's text
        {{ st_decimal("payload ->> '$.interestSettings.flatRateValue'") }}
            as interest_flat_rate_value,
        {{ st_decimal("payload ->> '$.interestSettings.percentageRateValue'") }}
            as interest_percentage_rate_value,
        -- A percentage or an amount, as `discount_type` says: four decimals hold either.
        {{ st_decimal("payload ->> '$.paymentTermDiscountModel.discount'") }} as discount,

        -- flags
        active as is_active,
        {{ st_bool("payload ->> '$.inUse'") }} as is_in_use,
        {{ st_bool("payload ->> '$.isCustomerDefault'") }} as is_customer_default,
        {{ st_bool("payload ->> '$.isVendorDefault'") }} as is_vendor_default,

        -- json
        {{ st_text_list("payload -> '$.interestSettings.targetInvoices'") }}
            as interest_target_invoices,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
