{#
    The call center by day (of the call, UTC), agent and campaign: every active call, by
    direction and ServiceTitan's classification, and the booking rate = booked / (booked +
    unbooked) lead calls. Which calls count is decided once, in fct_calls (`is_lead_call`,
    `is_booked`); the definitions are in _marketing__reports.yml.
#}

with

calls as (

    select * from {{ ref('fct_calls') }}
    -- a deleted call is in no ServiceTitan report
    where is_active

),

daily as (

    select
        tenant_id,
        call_date,
        agent_id,
        campaign_id,
        -- one name per group: the agent's and campaign's names as of their latest call
        arg_max(agent_name, called_at) as agent_name,
        arg_max(campaign_name, called_at) as campaign_name,
        count(*) as total_calls,
        count(*) filter (where call_direction = 'Inbound') as inbound_calls,
        count(*) filter (where call_direction = 'Outbound') as outbound_calls,
        count(*) filter (where is_lead_call) as lead_calls,
        count(*) filter (where is_booked) as booked_calls,
        count(*) filter (where is_unbooked) as unbooked_calls,
        count(*) filter (
            where call_direction = 'Inbound' and call_type = 'Abandoned'
        ) as abandoned_calls,
        count(*) filter (
            where call_direction = 'Inbound' and call_type = 'Excused'
        ) as excused_calls,
        count(*) filter (
            where call_direction = 'Inbound' and call_type = 'NotLead'
        ) as not_lead_calls,
        count(*) filter (
            where call_direction = 'Inbound' and call_type is null
        ) as unclassified_calls,
        coalesce(sum(duration_seconds), 0) as total_duration_seconds,
        coalesce(sum(duration_seconds) filter (where is_lead_call), 0) as lead_call_duration_seconds
    from calls
    group by tenant_id, call_date, agent_id, campaign_id

),

final as (

    select
        tenant_id,
        call_date,
        agent_id,
        -- ServiceTitan shows calls no agent took under an automatic "Abandoned" profile
        case
            when agent_id is null then 'No agent'
            else coalesce(agent_name, 'Agent ' || agent_id)
        end as agent_name,
        campaign_id,
        case
            when campaign_id is null then 'No campaign'
            else coalesce(campaign_name, 'Campaign ' || campaign_id)
        end as campaign_name,
        total_calls,
        inbound_calls,
        outbound_calls,
        lead_calls,
        booked_calls,
        unbooked_calls,
        abandoned_calls,
        excused_calls,
        not_lead_calls,
        unclassified_calls,
        {{ ratio('booked_calls', '(booked_calls + unbooked_calls)') }} as booking_rate,
        total_duration_seconds,
        lead_call_duration_seconds
    from daily

)

{{ select_with_connection_name('final') }}
