{#
    One row per application of a payment to an invoice (the payment's `appliedTo` array).
    Staged from the same raw table as stg_servicetitan__payments, because the array IS part of
    the source record: unnesting it is shaping, not business logic.
#}

with

source as (

    select * from {{ source('servicetitan', 'payments') }}

),

applications as (

    select
        _tenant_id,
        id as payment_id,
        active as is_payment_active,
        _connection,
        _loaded_at,
        -- Position within the array: the key, since nothing in the spec promises appliedId is
        -- unique within a payment.
        generate_subscripts(applied_to, 1) as application_index,
        unnest(applied_to) as application

    from (
        select
            *,
            from_json(
                payload->'$.appliedTo',
                '[{"appliedId": "BIGINT", "appliedTo": "BIGINT", "appliedAmount": "VARCHAR",
                   "appliedOn": "VARCHAR", "appliedBy": "VARCHAR",
                   "appliedToReferenceNumber": "VARCHAR"}]'
            ) as applied_to
        from source
    )

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        payment_id,
        application_index,
        application.appliedId as applied_id,
        application.appliedTo as invoice_id,

        -- attributes
        application.appliedToReferenceNumber as invoice_reference_number,
        application.appliedBy as applied_by,

        -- money, exact from ServiceTitan's string
        {{ st_money("application.appliedAmount") }} as applied_amount,

        -- flags
        is_payment_active,

        -- timestamps (UTC)
        {{ st_timestamp("application.appliedOn") }} as applied_at,

        -- lineage
        _connection as connection_name,
        _loaded_at as loaded_at

    from applications

)

select * from renamed
