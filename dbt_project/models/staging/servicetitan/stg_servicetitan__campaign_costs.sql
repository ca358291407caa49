{#
    What each campaign cost in a month, entered in ServiceTitan as a daily cost for a year and
    month. Read whole from the list endpoint on every run: the records have no modifiedOn,
    createdOn or active flag.
#}

with

source as (

    select * from {{ source('servicetitan', 'campaign_costs') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as campaign_cost_id,
        {{ st_id("payload ->> '$.campaignId'") }} as campaign_id,

        -- attributes
        cast(payload ->> '$.year' as integer) as cost_year,
        cast(payload ->> '$.month' as integer) as cost_month,
        -- The month as a date (its first day), to join to monthly revenue. Null for a month
        -- outside 1-12, which the model's tests then report (make_date would only raise).
        case
            when cast(payload ->> '$.month' as integer) between 1 and 12
                then make_date(
                        cast(payload ->> '$.year' as integer),
                        cast(payload ->> '$.month' as integer),
                        1
                    )
        end as month_start_date,

        -- money. A JSON number: its text is cast to DECIMAL(18,2), never through DOUBLE.
        {{ st_money("payload ->> '$.dailyCost'") }} as daily_cost,

        -- lineage
        _connection as connection_name,
        _loaded_at as loaded_at

    from source

)

select * from renamed
