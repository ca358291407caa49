with

campaigns as (

    select * from {{ ref('stg_servicetitan__campaigns') }}

),

final as (

    select
        tenant_id,
        campaign_id,
        campaign_name,
        campaign_category_id,
        campaign_category_name,
        campaign_source,
        campaign_medium,
        business_unit_name,
        is_active,
        is_default_campaign,
        created_at,
        modified_at,
        loaded_at
    from campaigns

)

{{ select_with_connection_name('final') }}
