{#
    What each campaign cost in each month, one row per campaign and month. ServiceTitan keeps a
    campaign's spend as a daily cost for a year and month; its Marketing Scorecards' "Total
    Cost" is that daily cost over the days reported, so a whole month costs daily cost x the
    days of the month. Exact: DECIMAL(18,2) times an integer is never rounded.
#}

with

costs as (

    select * from {{ ref('stg_servicetitan__campaign_costs') }}
    -- a month outside 1-12 has no date: stg_servicetitan__campaign_costs' tests report it
    where month_start_date is not null

),

campaigns as (

    select * from {{ ref('stg_servicetitan__campaigns') }}

),

monthly as (

    select
        tenant_id,
        campaign_id,
        month_start_date as cost_month,
        cast(
            datediff('day', month_start_date, month_start_date + interval 1 month) as integer
        ) as days_in_month,
        count(*) as cost_record_count,
        {{ money_total('daily_cost') }} as daily_cost
    from costs
    group by tenant_id, campaign_id, month_start_date

),

final as (

    select
        monthly.tenant_id,
        monthly.campaign_id,
        monthly.cost_month,
        campaigns.campaign_name,
        monthly.days_in_month,
        monthly.cost_record_count,
        monthly.daily_cost,
        cast(monthly.daily_cost * monthly.days_in_month as decimal(18, 2)) as campaign_cost
    from monthly
    {{ join_within_tenant('monthly', 'campaigns', 'campaign_id') }}

)

{{ select_with_connection_name('final') }}
