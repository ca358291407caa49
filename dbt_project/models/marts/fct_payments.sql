{#
    Incremental (docs/incremental.md): each run rebuilds the payments loaded since the last build
    (their applications are part of the same raw record), those whose surviving customer
    changed (a merge), and every payment of a renamed tenant.
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

        {{ re_merged_customer_rows(['tenant_id', 'payment_id']) }}

        union

        {{ renamed_tenant_rows(['tenant_id', 'payment_id']) }}

    ),

{%- endif %}

payments as (

    select all_payments.*
    from {{ ref('stg_servicetitan__payments') }} as all_payments
    {% if is_incremental() -%}
        {{ join_within_tenant('all_payments', 'to_rebuild', 'payment_id', join_type='inner') }}
    {%- endif %}

),

customer_merges as (

    select * from {{ ref('int_customers__merge_resolved') }}

),

applications as (

    select
        all_applications.tenant_id,
        all_applications.payment_id,
        count(*) as invoices_applied_to,
        cast(sum(all_applications.applied_amount) as decimal(18, 2)) as applied_amount
    from {{ ref('stg_servicetitan__payment_applications') }} as all_applications
    {%- if is_incremental() %}
        {{ join_within_tenant(
            'all_applications', 'to_rebuild', 'payment_id', join_type='inner'
        ) }}
    {%- endif %}
    group by all_applications.tenant_id, all_applications.payment_id

),

final as (

    select
        -- keys
        payments.tenant_id,
        payments.payment_id,
        payments.customer_id,
        coalesce(customer_merges.surviving_customer_id, payments.customer_id)
            as surviving_customer_id,
        payments.business_unit_id,
        payments.refunded_payment_id,
        payments.deposit_id,

        -- attributes
        payments.payment_type,
        payments.payment_type_id,
        payments.reference_number,
        payments.check_number,
        payments.memo,
        payments.customer_name,
        payments.business_unit_name,

        -- flags
        payments.is_active,
        payments.is_refund,

        -- money (DECIMAL(18,2), exact)
        payments.total,
        coalesce(applications.applied_amount, 0) as applied_amount,
        payments.unapplied_amount,
        coalesce(applications.invoices_applied_to, 0) as invoices_applied_to,

        -- dates (UTC)
        payments.paid_at,
        payments.payment_date,
        payments.created_at,
        payments.modified_at,

        payments.custom_fields,
        payments.loaded_at

    from payments
    {{ join_within_tenant('payments', 'customer_merges', 'customer_id') }}
    {{ join_within_tenant('payments', 'applications', 'payment_id') }}

)

{{ select_with_connection_name('final') }}
