{#
    Marketing by campaign and month: leads (lead calls, then CRM leads and bookings that are
    not the same contact as one counted before), booked jobs, completed jobs and their revenue,
    what the campaign cost, ROI and cost per lead. Each figure is dated by its own event (the
    call, the lead, the booking, the job's creation, its completion, the cost's month), as
    ServiceTitan's Marketing Scorecards date theirs. Definitions: _marketing__reports.yml.
#}

{%- set figure_relations = [
    'calls', 'crm_leads', 'booking_leads', 'booked_jobs', 'completed_jobs', 'costs'
] %}

with

calls as (

    select
        tenant_id,
        campaign_id,
        call_month as report_month,
        count(*) filter (where is_lead_call) as lead_calls,
        count(*) filter (where is_booked) as booked_calls
    from {{ ref('fct_calls') }}
    where is_lead_call
    group by tenant_id, campaign_id, call_month

),

crm_leads as (

    select
        tenant_id,
        campaign_id,
        created_month as report_month,
        count(*) as crm_leads
    from {{ ref('fct_leads') }}
    where is_counted_lead
    group by tenant_id, campaign_id, created_month

),

booking_leads as (

    select
        tenant_id,
        campaign_id,
        created_month as report_month,
        count(*) as booking_leads
    from {{ ref('fct_bookings') }}
    where is_counted_lead
    group by tenant_id, campaign_id, created_month

),

booked_jobs as (

    select
        tenant_id,
        campaign_id,
        cast(date_trunc('month', created_date) as date) as report_month,
        count(*) as booked_jobs
    from {{ ref('fct_jobs') }}
    where is_active and created_date is not null
    group by tenant_id, campaign_id, date_trunc('month', created_date)

),

completed_jobs as (

    select
        tenant_id,
        campaign_id,
        completed_month as report_month,
        count(*) as completed_jobs,
        count(*) filter (where is_converted) as converted_jobs,
        {{ money_total('invoice_subtotal') }} as completed_revenue
    from {{ ref('int_job_outcomes') }}
    where is_completed and completed_month is not null
    group by tenant_id, campaign_id, completed_month

),

costs as (

    select
        tenant_id,
        campaign_id,
        cost_month as report_month,
        campaign_cost
    from {{ ref('fct_campaign_costs') }}

),

-- Every (campaign, month) with any of the figures.
months as (

    {%- for figure in figure_relations %}
        {%- if not loop.first %}
            union
        {%- endif %}
        select
            tenant_id,
            campaign_id,
            report_month
        from {{ figure }}
    {%- endfor %}

),

-- Each figure 0 where the (campaign, month) has none. The joins match a null campaign to the
-- null campaign (`is not distinct from`): calls without a campaign still have their row.
monthly as (

    select
        months.tenant_id,
        months.campaign_id,
        months.report_month,
        coalesce(calls.lead_calls, 0) as lead_calls,
        coalesce(calls.booked_calls, 0) as booked_calls,
        coalesce(crm_leads.crm_leads, 0) as crm_leads,
        coalesce(booking_leads.booking_leads, 0) as booking_leads,
        coalesce(booked_jobs.booked_jobs, 0) as booked_jobs,
        coalesce(completed_jobs.completed_jobs, 0) as completed_jobs,
        coalesce(completed_jobs.converted_jobs, 0) as converted_jobs,
        coalesce(completed_jobs.completed_revenue, 0) as completed_revenue,
        coalesce(costs.campaign_cost, 0) as campaign_cost
    from months
    {%- for figure in figure_relations %}
    left join {{ figure }}
        on months.tenant_id = {{ figure }}.tenant_id
        and months.campaign_id is not distinct from {{ figure }}.campaign_id
        and months.report_month = {{ figure }}.report_month
    {%- endfor %}

),

campaigns as (

    select * from {{ ref('dim_campaigns') }}

),

final as (

    select
        monthly.tenant_id,
        monthly.campaign_id,
        monthly.report_month,
        case
            when monthly.campaign_id is null then 'No campaign'
            else coalesce(campaigns.campaign_name, 'Campaign ' || monthly.campaign_id)
        end as campaign_name,
        cast(monthly.lead_calls as bigint) as lead_calls,
        cast(monthly.crm_leads as bigint) as crm_leads,
        cast(monthly.booking_leads as bigint) as booking_leads,
        cast(monthly.lead_calls + monthly.crm_leads + monthly.booking_leads as bigint) as leads,
        cast(monthly.booked_calls as bigint) as booked_calls,
        cast(monthly.booked_jobs as bigint) as booked_jobs,
        cast(monthly.completed_jobs as bigint) as completed_jobs,
        cast(monthly.converted_jobs as bigint) as converted_jobs,
        monthly.completed_revenue,
        monthly.campaign_cost,
        {{ ratio('monthly.booked_calls', 'monthly.lead_calls') }} as booking_rate,
        {{ ratio('monthly.completed_revenue', 'monthly.campaign_cost') }} as roi,
        {{ ratio(
            '(monthly.completed_revenue - monthly.campaign_cost)', 'monthly.campaign_cost'
        ) }} as net_roi,
        {{ money_divide(
            'monthly.campaign_cost',
            '(monthly.lead_calls + monthly.crm_leads + monthly.booking_leads)'
        ) }} as cost_per_lead,
        {{ money_divide('monthly.campaign_cost', 'monthly.lead_calls') }} as cost_per_lead_call
    from monthly
    {{ join_within_tenant('monthly', 'campaigns', 'campaign_id') }}

)

{{ select_with_connection_name('final') }}
