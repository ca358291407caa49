{#
    Reconciliation: rpt_marketing_roi accounts, month by month, for every lead call
    (fct_calls), counted CRM lead (fct_leads) and counted booking (fct_bookings), every active
    job created (fct_jobs), every completed job and its invoice subtotal to the cent
    (int_job_outcomes) and every campaign cost to the cent (recomputed here from the raw
    daily costs, so fct_campaign_costs' monthly arithmetic is checked too), and its leads are
    the sum of their three kinds. Returns the (tenant, month, figure) that disagree.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_marketing_roi'}}}) }}

{%- set figures = [
    'lead_calls', 'crm_leads', 'booking_leads', 'booked_jobs', 'completed_jobs',
    'completed_revenue', 'campaign_cost'
] %}

with

lead_calls as (

    select
        tenant_id,
        call_month as report_month,
        count(*) as expected
    from {{ ref('fct_calls') }}
    where is_lead_call
    group by tenant_id, call_month

),

crm_leads as (

    select
        tenant_id,
        created_month as report_month,
        count(*) as expected
    from {{ ref('fct_leads') }}
    where is_counted_lead
    group by tenant_id, created_month

),

booking_leads as (

    select
        tenant_id,
        created_month as report_month,
        count(*) as expected
    from {{ ref('fct_bookings') }}
    where is_counted_lead
    group by tenant_id, created_month

),

booked_jobs as (

    select
        tenant_id,
        cast(date_trunc('month', created_date) as date) as report_month,
        count(*) as expected
    from {{ ref('fct_jobs') }}
    where is_active and created_date is not null
    group by tenant_id, date_trunc('month', created_date)

),

completed_jobs as (

    select
        tenant_id,
        completed_month as report_month,
        count(*) as expected
    from {{ ref('int_job_outcomes') }}
    where is_completed and completed_month is not null
    group by tenant_id, completed_month

),

completed_revenue as (

    select
        tenant_id,
        completed_month as report_month,
        sum(invoice_subtotal) as expected
    from {{ ref('int_job_outcomes') }}
    where is_completed and completed_month is not null
    group by tenant_id, completed_month

),

-- From the raw JSON, not from the marts: a month's cost is its daily cost times its days, so
-- fct_campaign_costs' arithmetic is checked too. (Not from staging either: `dbt build --select
-- staging` would then pick this test up without the marts it compares.)
campaign_cost as (

    select
        _tenant_id as tenant_id,
        make_date(
            cast(payload ->> '$.year' as integer), cast(payload ->> '$.month' as integer), 1
        ) as report_month,
        sum(
            {{ st_money("payload ->> '$.dailyCost'") }}
            * day(last_day(make_date(
                cast(payload ->> '$.year' as integer), cast(payload ->> '$.month' as integer), 1
            )))
        ) as expected
    from {{ source('servicetitan', 'campaign_costs') }}
    where cast(payload ->> '$.month' as integer) between 1 and 12
    group by all

),

reported as (

    select
        tenant_id,
        report_month,
        {%- for figure in figures %}
            sum({{ figure }}) as {{ figure }},
        {%- endfor %}
        sum(leads) as leads
    from {{ ref('rpt_marketing_roi') }}
    group by tenant_id, report_month

),

-- one row per (tenant, month, figure), the fact's side against the report's; a month missing
-- on one side compares as 0
compared as (

    {%- for figure in figures %}
        {%- if not loop.first %}
            union all
        {%- endif %}
        select
            '{{ figure }}' as figure,
            coalesce({{ figure }}.tenant_id, reported.tenant_id) as tenant_id,
            coalesce({{ figure }}.report_month, reported.report_month) as report_month,
            coalesce({{ figure }}.expected, 0) as expected,
            coalesce(reported.{{ figure }}, 0) as reported
        from {{ figure }}
        full outer join reported
            on {{ figure }}.tenant_id = reported.tenant_id
            and {{ figure }}.report_month = reported.report_month
    {%- endfor %}
    union all
    select
        'leads' as figure,
        tenant_id,
        report_month,
        lead_calls + crm_leads + booking_leads as expected,
        leads as reported
    from reported

)

select
    figure,
    tenant_id,
    report_month,
    expected,
    reported
from compared
where expected <> reported
