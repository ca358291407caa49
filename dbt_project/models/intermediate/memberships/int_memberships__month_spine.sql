{#
    The months the membership reports cover, per tenant: from the month of the tenant's
    earliest counted membership start to its as-of date, the UTC date of the latest membership
    load (the day the statuses were read). A month "ends" on its last day, or on the as-of date
    for the current month (`measured_on`): a day not yet seen is not reported.
#}

with

memberships as (

    select * from {{ ref('fct_memberships') }}
    where is_counted

),

tenant_bounds as (

    select
        tenant_id,
        min(start_month) as first_month,
        max({{ st_utc_date('loaded_at') }}) as as_of_date
    from memberships
    group by tenant_id

),

months as (

    select
        tenant_id,
        as_of_date,
        cast(unnest(generate_series(
            first_month, cast(date_trunc('month', as_of_date) as date), interval 1 month
        )) as date) as month_start
    from tenant_bounds
    where first_month <= as_of_date

),

final as (

    select
        tenant_id,
        month_start,
        least(last_day(month_start), as_of_date) as measured_on,
        as_of_date
    from months

)

select * from final
