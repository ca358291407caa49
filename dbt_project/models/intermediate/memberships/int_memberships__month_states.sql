{#
    Each counted membership (fct_memberships.is_counted) in each month of its tenant's spine
    that its term touches, with whether it was active at the start and at the end of the month.

    The months are int_memberships__month_spine's; a month "ends" on its `measured_on` day, and
    "at the start" is the end of the day before its first day.

    Active on day D: the term covers D (`start_date <= D < end_date`, open-ended without
    `end_date`: a renewal starts the day its predecessor ends, so a member is counted once) and
    the membership's status at the end of D (int_memberships__status_intervals) is Active.
#}

with

memberships as (

    select * from {{ ref('fct_memberships') }}
    where is_counted

),

intervals as (

    select * from {{ ref('int_memberships__status_intervals') }}

),

spine as (

    select * from {{ ref('int_memberships__month_spine') }}

),

candidates as (

    select
        memberships.tenant_id,
        memberships.membership_id,
        memberships.membership_type_id,
        memberships.business_unit_id,
        memberships.renewed_by_membership_id,
        memberships.start_date,
        memberships.end_date,
        spine.month_start,
        spine.measured_on,
        cast(spine.month_start - interval 1 day as date) as start_measured_on
    from memberships
    inner join spine
        on memberships.tenant_id = spine.tenant_id
        and memberships.start_month <= spine.month_start
        and (memberships.end_date is null or memberships.end_date >= spine.month_start)

),

measured as (

    select
        candidates.tenant_id,
        candidates.membership_id,
        candidates.month_start,
        bool_or(
            {{ membership_covers_day('candidates', 'intervals', 'candidates.start_measured_on') }}
            and intervals.membership_status = 'Active'
        ) as is_active_at_start,
        bool_or(
            {{ membership_covers_day('candidates', 'intervals', 'candidates.measured_on') }}
            and intervals.membership_status = 'Active'
        ) as is_active_at_end,
        bool_or(
            {{ membership_covers_day('candidates', 'intervals', 'candidates.measured_on') }}
            and intervals.membership_status = 'Suspended'
        ) as is_suspended_at_end
    from candidates
    {{ join_within_tenant('candidates', 'intervals', 'membership_id', join_type='inner') }}
    group by candidates.tenant_id, candidates.membership_id, candidates.month_start

),

final as (

    select
        candidates.tenant_id,
        candidates.membership_id,
        candidates.membership_type_id,
        candidates.business_unit_id,
        candidates.renewed_by_membership_id,
        candidates.month_start,
        candidates.measured_on,
        coalesce(measured.is_active_at_start, false) as is_active_at_start,
        coalesce(measured.is_active_at_end, false) as is_active_at_end,
        coalesce(measured.is_suspended_at_end, false) as is_suspended_at_end
    from candidates
    left join measured
        on candidates.tenant_id = measured.tenant_id
        and candidates.membership_id = measured.membership_id
        and candidates.month_start = measured.month_start

)

select * from final
