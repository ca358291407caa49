{#
    Reconciliation: rpt_memberships and rpt_membership_conversion add up to fct_memberships.
    Returns one row per disagreement:

      - current month: active (and suspended) at end = counted memberships whose current status
        is Active (Suspended) and whose term covers the as-of date (on that day the status is
        the membership's own, whatever its history says);
      - every month: active at start = active at end of the month before, per type;
      - over the spine: new, renewed, canceled and expired add up to the counted memberships
        that started (as a sale or as a renewal), were canceled or expired within it;
      - membership conversion: memberships sold add up to the counted sales, opportunities to
        int_job_outcomes' opportunity jobs with a completion month.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_memberships'}}}) }}

with

report as (

    select * from {{ ref('rpt_memberships') }}

),

memberships as (

    select * from {{ ref('fct_memberships') }}
    where is_counted

),

spine_bounds as (

    select
        tenant_id,
        min(membership_month) as first_month,
        max(membership_month) as last_month,
        max(measured_on) as as_of_date
    from report
    group by tenant_id

),

current_expected as (

    select
        memberships.tenant_id,
        memberships.membership_type_id,
        count(*) filter (where memberships.membership_status = 'Active') as active_at_end,
        count(*) filter (where memberships.membership_status = 'Suspended') as suspended_at_end
    from memberships
    inner join spine_bounds
        on memberships.tenant_id = spine_bounds.tenant_id
    where memberships.start_date <= spine_bounds.as_of_date
        and (memberships.end_date is null or memberships.end_date > spine_bounds.as_of_date)
    group by memberships.tenant_id, memberships.membership_type_id

),

current_mismatches as (

    select
        'current month active or suspended' as check_name,
        report.tenant_id,
        report.membership_type_id,
        report.membership_month
    from report
    inner join spine_bounds
        on report.tenant_id = spine_bounds.tenant_id
        and report.membership_month = spine_bounds.last_month
    left join current_expected
        on report.tenant_id = current_expected.tenant_id
        and report.membership_type_id = current_expected.membership_type_id
    where report.active_at_end <> coalesce(current_expected.active_at_end, 0)
        or report.suspended_at_end <> coalesce(current_expected.suspended_at_end, 0)

),

continuity_mismatches as (

    select
        'active at start is last month''s active at end' as check_name,
        report.tenant_id,
        report.membership_type_id,
        report.membership_month
    from report
    left join report as previous
        on report.tenant_id = previous.tenant_id
        and report.membership_type_id = previous.membership_type_id
        and previous.membership_month = cast(report.membership_month - interval 1 month as date)
    where report.active_at_start <> coalesce(previous.active_at_end, 0)

),

flows_expected as (

    select
        memberships.tenant_id,
        memberships.membership_type_id,
        count(*) filter (
            where not memberships.is_renewal
            and memberships.start_month between spine_bounds.first_month and spine_bounds.last_month
        ) as new_memberships,
        count(*) filter (
            where memberships.is_renewal
            and memberships.start_month between spine_bounds.first_month and spine_bounds.last_month
        ) as renewed_memberships,
        count(*) filter (
            where memberships.canceled_date >= spine_bounds.first_month
            and memberships.canceled_date <= last_day(spine_bounds.last_month)
        ) as canceled_memberships,
        count(*) filter (
            where memberships.expired_date >= spine_bounds.first_month
            and memberships.expired_date <= last_day(spine_bounds.last_month)
        ) as expired_memberships
    from memberships
    inner join spine_bounds
        on memberships.tenant_id = spine_bounds.tenant_id
    group by memberships.tenant_id, memberships.membership_type_id

),

flows_reported as (

    select
        tenant_id,
        membership_type_id,
        sum(new_memberships) as new_memberships,
        sum(renewed_memberships) as renewed_memberships,
        sum(canceled_memberships) as canceled_memberships,
        sum(expired_memberships) as expired_memberships
    from report
    group by tenant_id, membership_type_id

),

flow_mismatches as (

    select
        'new, renewed, canceled and expired over the spine' as check_name,
        coalesce(flows_reported.tenant_id, flows_expected.tenant_id) as tenant_id,
        coalesce(
            flows_reported.membership_type_id, flows_expected.membership_type_id
        ) as membership_type_id,
        cast(null as date) as membership_month
    from flows_reported
    full outer join flows_expected
        on flows_reported.tenant_id = flows_expected.tenant_id
        and flows_reported.membership_type_id = flows_expected.membership_type_id
    where flows_reported.new_memberships is distinct from flows_expected.new_memberships
        or flows_reported.renewed_memberships is distinct from flows_expected.renewed_memberships
        or flows_reported.canceled_memberships
        is distinct from flows_expected.canceled_memberships
        or flows_reported.expired_memberships is distinct from flows_expected.expired_memberships

),

conversion_reported as (

    select
        tenant_id,
        sum(memberships_sold) as memberships_sold,
        sum(opportunities) as opportunities
    from {{ ref('rpt_membership_conversion') }}
    group by tenant_id

),

sales_expected as (

    select
        tenant_id,
        count(*) as memberships_sold
    from memberships
    where not is_renewal and start_month is not null
    group by tenant_id

),

opportunities_expected as (

    select
        tenant_id,
        count(*) as opportunities
    from {{ ref('int_job_outcomes') }}
    where is_opportunity and completed_month is not null
    group by tenant_id

),

conversion_mismatches as (

    select
        'membership conversion: sold and opportunities' as check_name,
        conversion_reported.tenant_id,
        cast(null as bigint) as membership_type_id,
        cast(null as date) as membership_month
    from conversion_reported
    left join sales_expected
        on conversion_reported.tenant_id = sales_expected.tenant_id
    left join opportunities_expected
        on conversion_reported.tenant_id = opportunities_expected.tenant_id
    where conversion_reported.memberships_sold <> coalesce(sales_expected.memberships_sold, 0)
        or conversion_reported.opportunities <> coalesce(opportunities_expected.opportunities, 0)

)

select * from current_mismatches
union all
select * from continuity_mismatches
union all
select * from flow_mismatches
union all
select * from conversion_mismatches
