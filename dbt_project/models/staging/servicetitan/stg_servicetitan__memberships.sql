with

source as (

    select * from {{ source('servicetitan', 'memberships') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as membership_id,
        {{ st_id("payload ->> '$.customerId'") }} as customer_id,
        {{ st_id("payload ->> '$.locationId'") }} as location_id,
        {{ st_id("payload ->> '$.businessUnitId'") }} as business_unit_id,
        {{ st_id("payload ->> '$.membershipTypeId'") }} as membership_type_id,
        -- The user credited with selling the membership.
        {{ st_id("payload ->> '$.soldById'") }} as sold_by_id,
        {{ st_id("payload ->> '$.createdById'") }} as created_by_id,
        {{ st_id("payload ->> '$.activatedById'") }} as activated_by_id,
        -- The invoice item that sold the membership (its sale task).
        {{ st_id("payload ->> '$.activatedFromId'") }} as activated_from_invoice_item_id,
        -- The membership that renews this one (set once it was renewed).
        {{ st_id("payload ->> '$.renewedById'") }} as renewed_by_membership_id,
        {{ st_id("payload ->> '$.renewalMembershipTaskId'") }} as renewal_membership_task_id,
        {{ st_id("payload ->> '$.billingTemplateId'") }} as billing_template_id,
        {{ st_id("payload ->> '$.cancellationInvoiceId'") }} as cancellation_invoice_id,
        {{ st_id("payload ->> '$.cancellationBalanceInvoiceId'") }}
            as cancellation_balance_invoice_id,
        {{ st_id("payload ->> '$.followUpCustomStatusId'") }} as follow_up_custom_status_id,
        {{ st_id("payload ->> '$.paymentMethodId'") }} as payment_method_id,
        {{ st_id("payload ->> '$.paymentTypeId'") }} as payment_type_id,
        {{ st_id("payload ->> '$.recurringLocationId'") }} as recurring_location_id,

        -- attributes
        payload ->> '$.status' as membership_status,
        payload ->> '$.followUpStatus' as follow_up_status,
        payload ->> '$.billingFrequency' as billing_frequency,
        payload ->> '$.renewalBillingFrequency' as renewal_billing_frequency,
        cast(payload ->> '$.duration' as integer) as duration_months,
        cast(payload ->> '$.renewalDuration' as integer) as renewal_duration_months,
        payload ->> '$.customerPo' as customer_po,
        payload ->> '$.memo' as memo,
        payload ->> '$.importId' as import_id,

        -- money. A JSON number: its text is cast to DECIMAL(18,2), never through DOUBLE.
        {{ st_money("payload ->> '$.initialDeferredRevenue'") }} as initial_deferred_revenue,

        -- flags
        active as is_active,

        -- json
        payload -> '$.customFields' as custom_fields,

        -- dates and timestamps (UTC). The term's bounds (`from`, `to`) and the cancellation
        -- are business dates: their UTC calendar date is the date analysts expect.
        {{ st_timestamp("payload ->> '$.from'") }} as starts_at,
        {{ st_utc_date(st_timestamp("payload ->> '$.from'")) }} as start_date,
        {{ st_timestamp("payload ->> '$.to'") }} as ends_at,
        {{ st_utc_date(st_timestamp("payload ->> '$.to'")) }} as end_date,
        {{ st_timestamp("payload ->> '$.cancellationDate'") }} as canceled_at,
        {{ st_utc_date(st_timestamp("payload ->> '$.cancellationDate'")) }} as cancellation_date,
        {{ st_utc_date(st_timestamp("payload ->> '$.nextScheduledBillDate'")) }}
            as next_scheduled_bill_date,
        {{ st_timestamp("payload ->> '$.followUpOn'") }} as follow_up_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
