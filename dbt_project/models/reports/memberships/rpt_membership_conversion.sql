{#
    Membership conversion per month and business unit: new memberships sold / opportunities
    (int_job_outcomes). Definitions in _memberships__reports.yml.
#}

with

memberships as (

    select * from {{ ref('fct_memberships') }}
    where is_counted

),

job_outcomes as (

    select * from {{ ref('int_job_outcomes') }}

),

business_units as (

    select * from {{ ref('dim_business_units') }}

),

sold as (

    select
        tenant_id,
        start_month as conversion_month,
        business_unit_id,
        count(*) as memberships_sold
    from memberships
    where not is_renewal and start_month is not null
    group by tenant_id, start_month, business_unit_id

),

opportunities as (

    select
        tenant_id,
        completed_month as conversion_month,
        business_unit_id,
        count(*) as opportunities
    from job_outcomes
    where is_opportunity
    group by tenant_id, completed_month, business_unit_id

),

combined as (

    select
        coalesce(sold.tenant_id, opportunities.tenant_id) as tenant_id,
        coalesce(sold.conversion_month, opportunities.conversion_month) as conversion_month,
        coalesce(sold.business_unit_id, opportunities.business_unit_id) as business_unit_id,
        coalesce(sold.memberships_sold, 0) as memberships_sold,
        coalesce(opportunities.opportunities, 0) as opportunities
    from sold
    full outer join opportunities
        on sold.tenant_id = opportunities.tenant_id
        and sold.conversion_month = opportunities.conversion_month
        and sold.business_unit_id is not distinct from opportunities.business_unit_id

),

final as (

    select
        combined.tenant_id,
        combined.conversion_month,
        combined.business_unit_id,
        case
            when combined.business_unit_id is null then 'Unassigned'
            else coalesce(business_units.business_unit_name, 'Unknown business unit')
        end as business_unit_name,
        combined.memberships_sold,
        combined.opportunities,
        {{ ratio('combined.memberships_sold', 'combined.opportunities') }}
            as membership_conversion_rate
    from combined
    {{ join_within_tenant('combined', 'business_units', 'business_unit_id') }}

)

{{ select_with_connection_name('final') }}
