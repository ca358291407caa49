{#
    Incremental (docs/incremental.md): the payment is the record, its applications (the
    `appliedTo` array) its parts: each run rebuilds every application of the payments loaded
    since the last build (delete+insert by payment, so an application the payment no longer
    lists is gone too), and every application of a renamed tenant.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'payment_id'],
    post_hook=[
        "{{ delete_rows_gone_from(source('servicetitan', 'payments'), [('payment_id', 'id')]) }}",
        "{{ record_incremental_watermark() }}",
    ]
) }}
-- depends_on: {{ source('servicetitan', 'payments') }}

with

{%- if is_incremental() %}

    to_rebuild as (

        select
            tenant_id,
            payment_id
        from {{ ref('stg_servicetitan__payments') }}
        where loaded_at > {{ incremental_watermark() }}

        union

        {{ renamed_tenant_rows(['tenant_id', 'payment_id']) }}

    ),

{%- endif %}

applications as (

    select all_applications.*
    from {{ ref('stg_servicetitan__payment_applications') }} as all_applications
    {%- if is_incremental() %}
        {{ join_within_tenant(
            'all_applications', 'to_rebuild', 'payment_id', join_type='inner'
        ) }}
    {%- endif %}

),

payments as (

    select * from {{ ref('stg_servicetitan__payments') }}

),

final as (

    select
        applications.tenant_id,
        applications.payment_id,
        applications.application_index,
        applications.applied_id,
        applications.invoice_id,
        applications.invoice_reference_number,
        payments.customer_id,
        payments.payment_type,
        applications.applied_amount,
        applications.is_payment_active,
        applications.applied_by,
        applications.applied_at,
        payments.payment_date,
        applications.loaded_at
    from applications
    {{ join_within_tenant('applications', 'payments', 'payment_id') }}

)

{{ select_with_connection_name('final') }}
