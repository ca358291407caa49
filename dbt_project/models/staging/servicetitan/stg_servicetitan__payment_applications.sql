{#
    One row per application of a payment to an invoice (the payment's `appliedTo` array).
    Staged from the same raw table as stg_servicetitan__payments, because the array IS part of
    the source record: unnesting it is shaping, not business logic.
#}

with

source as (

    select * from {{ source('servicetitan', 'payments') }}

),

applied_to_lists as (

    select
        source._tenant_id,
        source.id as payment_id,
        source.active as is_payment_active,
        source._connection,
        source._loaded_at,
        from_json(
            source.payload -> '$.appliedTo',
            '[{"appliedId": "BIGINT", "appliedTo": "BIGINT", "appliedAmount": "VARCHAR",
               "appliedOn": "VARCHAR", "appliedBy": "VARCHAR",
               "appliedToReferenceNumber": "VARCHAR"}]'
        ) as applied_to
    from source

),

applications as (

    select
        applied_to_lists._tenant_id,
        applied_to_lists.payment_id,
        applied_to_lists.is_payment_active,
        applied_to_lists._connection,
        applied_to_lists._loaded_at,
        -- Position within the array: the key, since nothing in the spec promises appliedId is
        -- unique within a payment.
        generate_subscripts(applied_to_lists.applied_to, 1) as application_index,
        unnest(applied_to_lists.applied_to) as application
    from applied_to_lists

),

renamed as (

    select
        -- keys
        applications._tenant_id as tenant_id,
        applications.payment_id,
        applications.application_index,
        applications.application.appliedId as applied_id,
        applications.application.appliedTo as invoice_id,

        -- attributes
        applications.application.appliedToReferenceNumber as invoice_reference_number,
        applications.application.appliedBy as applied_by,

        -- money, exact from ServiceTitan's string
        {{ st_money("applications.application.appliedAmount") }} as applied_amount,

        -- flags
        applications.is_payment_active,

        -- timestamps (UTC)
        {{ st_timestamp("applications.application.appliedOn") }} as applied_at,

        -- lineage
        applications._connection as connection_name,
        applications._loaded_at as loaded_at

    from applications

)

select * from renamed
