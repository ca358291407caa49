{#
    Reconciliation: rpt_call_center accounts for every active call of fct_calls, day by day,
    in each of its counts and seconds, and its inbound calls are exactly the sum of their
    classifications (booked + unbooked + abandoned + excused + not-lead + unclassified).
    Returns the (tenant, day) rows that disagree.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_call_center'}}}) }}

with

expected as (

    select
        tenant_id,
        call_date,
        count(*) as total_calls,
        count(*) filter (where call_direction = 'Inbound') as inbound_calls,
        count(*) filter (where is_lead_call) as lead_calls,
        count(*) filter (where is_booked) as booked_calls,
        count(*) filter (where is_unbooked) as unbooked_calls,
        coalesce(sum(duration_seconds), 0) as total_duration_seconds
    from {{ ref('fct_calls') }}
    where is_active
    group by tenant_id, call_date

),

reported as (

    select
        tenant_id,
        call_date,
        sum(total_calls) as total_calls,
        sum(inbound_calls) as inbound_calls,
        sum(lead_calls) as lead_calls,
        sum(booked_calls) as booked_calls,
        sum(unbooked_calls) as unbooked_calls,
        sum(total_duration_seconds) as total_duration_seconds,
        sum(
            booked_calls + unbooked_calls + abandoned_calls + excused_calls + not_lead_calls
            + unclassified_calls
        ) as classified_inbound_calls,
        sum(inbound_calls + outbound_calls) as directed_calls
    from {{ ref('rpt_call_center') }}
    group by tenant_id, call_date

)

select
    coalesce(expected.tenant_id, reported.tenant_id) as tenant_id,
    coalesce(expected.call_date, reported.call_date) as call_date,
    expected.total_calls as expected_total_calls,
    reported.total_calls as reported_total_calls,
    expected.lead_calls as expected_lead_calls,
    reported.lead_calls as reported_lead_calls,
    expected.booked_calls as expected_booked_calls,
    reported.booked_calls as reported_booked_calls
from expected
full outer join reported
    on expected.tenant_id = reported.tenant_id
    and expected.call_date = reported.call_date
where expected.tenant_id is null
    or reported.tenant_id is null
    or expected.total_calls <> reported.total_calls
    or expected.inbound_calls <> reported.inbound_calls
    or expected.lead_calls <> reported.lead_calls
    or expected.booked_calls <> reported.booked_calls
    or expected.unbooked_calls <> reported.unbooked_calls
    or expected.total_duration_seconds <> reported.total_duration_seconds
    or reported.classified_inbound_calls <> reported.inbound_calls
    or reported.directed_calls <> reported.total_calls
    or reported.lead_calls <> reported.booked_calls + reported.unbooked_calls
