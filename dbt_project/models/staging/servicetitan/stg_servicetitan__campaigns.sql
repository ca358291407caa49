with

source as (

    select * from {{ source('servicetitan', 'campaigns') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as campaign_id,
        {{ st_id("payload ->> '$.category.id'") }} as campaign_category_id,

        -- attributes
        payload ->> '$.name' as campaign_name,
        payload ->> '$.category.name' as campaign_category_name,
        payload ->> '$.source' as campaign_source,
        payload ->> '$.otherSource' as other_source,
        payload ->> '$.medium' as campaign_medium,
        payload ->> '$.otherMedium' as other_medium,
        -- ServiceTitan sends the business unit of a campaign as a free-text name, not an id.
        payload ->> '$.businessUnit' as business_unit_name,

        -- flags
        active as is_active,
        coalesce({{ st_bool("payload ->> '$.isDefaultCampaign'") }}, false) as is_default_campaign,

        -- json
        payload -> '$.campaignPhoneNumbers' as campaign_phone_numbers,

        -- timestamps (UTC)
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
