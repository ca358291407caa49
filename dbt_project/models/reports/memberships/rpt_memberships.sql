{#
    Memberships per type and month: active at the start and end, new, renewed, canceled,
    expired, retained, and the retention rate. Definitions in _memberships__reports.yml.
#}

with

memberships as (

    select * from {{ ref('fct_memberships') }}
    where is_counted

),

membership_types as (

    select * from {{ ref('dim_membership_types') }}

),

spine as (

    select * from {{ ref('int_memberships__month_spine') }}

),

month_states as (

    select * from {{ ref('int_memberships__month_states') }}

),

tenant_types as (

    select distinct
        tenant_id,
        membership_type_id
    from memberships

),

type_months as (

    select
        spine.tenant_id,
        spine.month_start,
        spine.measured_on,
        tenant_types.membership_type_id
    from spine
    inner join tenant_types
        on spine.tenant_id = tenant_types.tenant_id

),

-- A membership active at the start of a month is retained when it, or the term that renewed
-- it, is active at the month's end: a renewal continues the same member.
retained as (

    select
        month_states.tenant_id,
        month_states.membership_id,
        month_states.month_start,
        month_states.is_active_at_end
        or coalesce(renewal_states.is_active_at_end, false) as is_retained
    from month_states
    left join month_states as renewal_states
        on month_states.tenant_id = renewal_states.tenant_id
        and month_states.renewed_by_membership_id = renewal_states.membership_id
        and month_states.month_start = renewal_states.month_start
    where month_states.is_active_at_start

),

states as (

    select
        month_states.tenant_id,
        month_states.membership_type_id,
        month_states.month_start,
        count(*) filter (where month_states.is_active_at_start) as active_at_start,
        count(*) filter (where month_states.is_active_at_end) as active_at_end,
        count(*) filter (where month_states.is_suspended_at_end) as suspended_at_end,
        count(*) filter (where retained.is_retained) as retained_memberships
    from month_states
    left join retained
        on month_states.tenant_id = retained.tenant_id
        and month_states.membership_id = retained.membership_id
        and month_states.month_start = retained.month_start
    group by month_states.tenant_id, month_states.membership_type_id, month_states.month_start

),

started as (

    select
        tenant_id,
        membership_type_id,
        start_month as month_start,
        count(*) filter (where not is_renewal) as new_memberships,
        count(*) filter (where is_renewal) as renewed_memberships
    from memberships
    group by tenant_id, membership_type_id, start_month

),

canceled as (

    select
        tenant_id,
        membership_type_id,
        cast(date_trunc('month', canceled_date) as date) as month_start,
        count(*) as canceled_memberships
    from memberships
    where canceled_date is not null
    group by tenant_id, membership_type_id, date_trunc('month', canceled_date)

),

expired as (

    select
        tenant_id,
        membership_type_id,
        cast(date_trunc('month', expired_date) as date) as month_start,
        count(*) as expired_memberships
    from memberships
    where expired_date is not null
    group by tenant_id, membership_type_id, date_trunc('month', expired_date)

),

counted as (

    select
        type_months.tenant_id,
        type_months.month_start as membership_month,
        type_months.membership_type_id,
        coalesce(membership_types.membership_type_name, 'Unknown type') as membership_type_name,
        type_months.measured_on,
        coalesce(states.active_at_start, 0) as active_at_start,
        coalesce(started.new_memberships, 0) as new_memberships,
        coalesce(started.renewed_memberships, 0) as renewed_memberships,
        coalesce(canceled.canceled_memberships, 0) as canceled_memberships,
        coalesce(expired.expired_memberships, 0) as expired_memberships,
        coalesce(states.active_at_end, 0) as active_at_end,
        coalesce(states.suspended_at_end, 0) as suspended_at_end,
        coalesce(states.retained_memberships, 0) as retained_memberships
    from type_months
    left join membership_types
        on type_months.tenant_id = membership_types.tenant_id
        and type_months.membership_type_id = membership_types.membership_type_id
    left join states
        on type_months.tenant_id = states.tenant_id
        and type_months.membership_type_id = states.membership_type_id
        and type_months.month_start = states.month_start
    left join started
        on type_months.tenant_id = started.tenant_id
        and type_months.membership_type_id = started.membership_type_id
        and type_months.month_start = started.month_start
    left join canceled
        on type_months.tenant_id = canceled.tenant_id
        and type_months.membership_type_id = canceled.membership_type_id
        and type_months.month_start = canceled.month_start
    left join expired
        on type_months.tenant_id = expired.tenant_id
        and type_months.membership_type_id = expired.membership_type_id
        and type_months.month_start = expired.month_start

),

final as (

    select
        *,
        {{ ratio('retained_memberships', 'active_at_start') }} as retention_rate
    from counted

)

{{ select_with_connection_name('final') }}
