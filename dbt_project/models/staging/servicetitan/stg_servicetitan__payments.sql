with

source as (

    select * from {{ source('servicetitan', 'payments') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as payment_id,
        {{ st_id("payload ->> '$.customer.id'") }} as customer_id,
        {{ st_id("payload ->> '$.businessUnit.id'") }} as business_unit_id,
        -- Set on a refund: the payment it refunds.
        {{ st_id("payload ->> '$.refundedPaymentId'") }} as refunded_payment_id,
        {{ st_id("payload ->> '$.deposit.id'") }} as deposit_id,
        {{ st_id("payload ->> '$.batch.id'") }} as batch_id,
        {{ st_id("payload ->> '$.generalLedgerAccount.id'") }} as general_ledger_account_id,

        -- attributes
        payload ->> '$.type' as payment_type,
        payload ->> '$.typeId' as payment_type_id,
        payload ->> '$.referenceNumber' as reference_number,
        payload ->> '$.checkNumber' as check_number,
        payload ->> '$.authCode' as auth_code,
        payload ->> '$.memo' as memo,
        payload ->> '$.createdBy' as created_by,
        payload ->> '$.syncStatus' as sync_status,
        payload ->> '$.customer.name' as customer_name,
        payload ->> '$.businessUnit.name' as business_unit_name,
        payload ->> '$.deposit.name' as deposit_name,
        payload ->> '$.generalLedgerAccount.name' as general_ledger_account_name,

        -- money, exact from ServiceTitan's strings
        {{ st_money("payload ->> '$.total'") }} as total,
        {{ st_money("payload ->> '$.unappliedAmount'") }} as unapplied_amount,

        -- flags
        active as is_active,
        {{ st_id("payload ->> '$.refundedPaymentId'") }} is not null as is_refund,

        -- json
        payload -> '$.customFields' as custom_fields,
        coalesce(json_array_length(payload -> '$.appliedTo'), 0) as application_count,

        -- dates and timestamps (UTC)
        {{ st_timestamp("payload ->> '$.date'") }} as paid_at,
        {{ st_utc_date(st_timestamp("payload ->> '$.date'")) }} as payment_date,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
