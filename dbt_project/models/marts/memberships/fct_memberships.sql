{#
    One row per membership term (a renewal is a membership of its own, linked both ways:
    `renewed_by_membership_id` forward, `renews_membership_id` back). Dates the reports count
    by are decided here once: `canceled_date` and `expired_date` from the status history
    (ServiceTitan's `cancellationDate` when the history lacks the change), and `is_counted`
    excludes deleted memberships, which ServiceTitan keeps for office errors such as duplicates.
#}

with

memberships as (

    select * from {{ ref('stg_servicetitan__memberships') }}

),

membership_types as (

    select * from {{ ref('stg_servicetitan__membership_types') }}

),

customer_merges as (

    select * from {{ ref('int_customers__merge_resolved') }}

),

business_units as (

    select * from {{ ref('stg_servicetitan__business_units') }}

),

status_changes as (

    select * from {{ ref('fct_membership_status_changes') }}

),

-- The membership each renewal renews: the one whose `renewedById` points at it.
renewals as (

    select
        tenant_id,
        renewed_by_membership_id as membership_id,
        min(membership_id) as renews_membership_id
    from memberships
    where renewed_by_membership_id is not null
    group by tenant_id, renewed_by_membership_id

),

status_history as (

    select
        tenant_id,
        membership_id,
        count(*) as status_change_count,
        max(changed_at) as last_status_change_at,
        max(changed_date) filter (where status_after = 'Canceled') as canceled_change_date,
        max(changed_date) filter (where status_after = 'Expired') as expired_change_date
    from status_changes
    group by tenant_id, membership_id

),

final as (

    select
        -- keys
        memberships.tenant_id,
        memberships.membership_id,
        memberships.membership_type_id,
        memberships.customer_id,
        coalesce(
            customer_merges.surviving_customer_id, memberships.customer_id
        ) as surviving_customer_id,
        memberships.location_id,
        memberships.recurring_location_id,
        memberships.business_unit_id,
        memberships.sold_by_id,
        memberships.activated_by_id,
        memberships.activated_from_invoice_item_id,
        memberships.renewed_by_membership_id,
        renewals.renews_membership_id,
        memberships.billing_template_id,
        memberships.cancellation_invoice_id,

        -- names, for reading without joins
        membership_types.membership_type_name,
        business_units.business_unit_name,

        -- status
        memberships.membership_status,
        memberships.follow_up_status,
        memberships.is_active,
        memberships.is_active
        and memberships.membership_status <> 'Deleted' as is_counted,
        renewals.renews_membership_id is not null as is_renewal,
        memberships.renewed_by_membership_id is not null as is_renewed,
        coalesce(status_history.status_change_count, 0) as status_change_count,

        -- billing
        memberships.billing_frequency,
        memberships.renewal_billing_frequency,
        memberships.duration_months,
        memberships.renewal_duration_months,
        memberships.initial_deferred_revenue,
        memberships.next_scheduled_bill_date,

        -- dates (UTC)
        memberships.start_date,
        memberships.end_date,
        cast(date_trunc('month', memberships.start_date) as date) as start_month,
        case
            when memberships.membership_status = 'Canceled'
                then coalesce(status_history.canceled_change_date, memberships.cancellation_date)
        end as canceled_date,
        case
            when memberships.membership_status = 'Expired'
                then coalesce(status_history.expired_change_date, memberships.end_date)
        end as expired_date,
        memberships.cancellation_date,
        memberships.starts_at,
        memberships.ends_at,
        memberships.canceled_at,
        status_history.last_status_change_at,
        memberships.created_at,
        memberships.modified_at,

        memberships.memo,
        memberships.custom_fields,
        memberships.loaded_at

    from memberships
    {{ join_within_tenant('memberships', 'membership_types', 'membership_type_id') }}
    {{ join_within_tenant('memberships', 'customer_merges', 'customer_id') }}
    {{ join_within_tenant('memberships', 'business_units', 'business_unit_id') }}
    {{ join_within_tenant('memberships', 'renewals', 'membership_id') }}
    {{ join_within_tenant('memberships', 'status_history', 'membership_id') }}

)

{{ select_with_connection_name('final') }}
