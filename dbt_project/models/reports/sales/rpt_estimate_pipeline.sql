{#
    The estimate pipeline by business unit and age: active estimates that are open, sold or
    dismissed, counted and summed (subtotal, pre-tax) per age bucket. Age = days from the
    estimate's creation to the as-of date (fct_estimates: the latest estimate load, or the
    `estimate_as_of_date` / `ar_as_of_date` override), so a rebuild on the same data gives the
    same buckets. Inactive estimates were deleted in ServiceTitan and count nowhere.
#}

with

estimates as (

    select * from {{ ref('fct_estimates') }}
    where is_open or is_sold or is_dismissed

),

bucketed as (

    select
        *,
        case
            when age_days <= 7 then '0-7'
            when age_days <= 30 then '8-30'
            when age_days <= 60 then '31-60'
            when age_days <= 90 then '61-90'
            else '90+'
        end as age_bucket,
        case
            when age_days <= 7 then 1
            when age_days <= 30 then 2
            when age_days <= 60 then 3
            when age_days <= 90 then 4
            else 5
        end as age_bucket_order
    from estimates

),

final as (

    select
        tenant_id,
        business_unit_id,
        age_bucket,
        any_value(as_of_date) as as_of_date,
        any_value(age_bucket_order) as age_bucket_order,
        coalesce(any_value(business_unit_name), 'Unassigned') as business_unit_name,
        count(*) as estimate_count,
        {{ money_total('subtotal') }} as estimate_subtotal,
        count(*) filter (where is_open) as open_count,
        {{ money_total('subtotal', 'is_open') }} as open_subtotal,
        count(*) filter (where is_sold) as sold_count,
        {{ money_total('subtotal', 'is_sold') }} as sold_subtotal,
        count(*) filter (where is_dismissed) as dismissed_count,
        {{ money_total('subtotal', 'is_dismissed') }} as dismissed_subtotal
    from bucketed
    group by tenant_id, business_unit_id, age_bucket

)

{{ select_with_connection_name('final') }}
