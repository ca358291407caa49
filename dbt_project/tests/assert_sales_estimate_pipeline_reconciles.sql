{#
    Reconciliation: rpt_estimate_pipeline holds every active Open, Sold and Dismissed estimate
    of fct_estimates once, per tenant and business unit: counts and subtotals per status equal
    the facts', and each row's total is the sum of its statuses. Returns what disagrees.
#}
{{ config(meta={'dagster': {'ref': {'name': 'rpt_estimate_pipeline'}}}) }}

with

expected as (

    select
        tenant_id,
        business_unit_id,
        count(*) filter (where is_open) as open_count,
        coalesce(sum(subtotal) filter (where is_open), 0) as open_subtotal,
        count(*) filter (where is_sold) as sold_count,
        coalesce(sum(subtotal) filter (where is_sold), 0) as sold_subtotal,
        count(*) filter (where is_dismissed) as dismissed_count,
        coalesce(sum(subtotal) filter (where is_dismissed), 0) as dismissed_subtotal
    from {{ ref('fct_estimates') }}
    where is_open or is_sold or is_dismissed
    group by 1, 2

),

reported as (

    select
        tenant_id,
        business_unit_id,
        sum(open_count) as open_count,
        sum(open_subtotal) as open_subtotal,
        sum(sold_count) as sold_count,
        sum(sold_subtotal) as sold_subtotal,
        sum(dismissed_count) as dismissed_count,
        sum(dismissed_subtotal) as dismissed_subtotal,
        count(*) filter (
            where estimate_count <> open_count + sold_count + dismissed_count
            or estimate_subtotal <> open_subtotal + sold_subtotal + dismissed_subtotal
        ) as rows_not_adding_up
    from {{ ref('rpt_estimate_pipeline') }}
    group by 1, 2

)

select
    coalesce(reported.tenant_id, expected.tenant_id) as tenant_id,
    coalesce(reported.business_unit_id, expected.business_unit_id) as business_unit_id,
    expected.open_count as expected_open_count,
    reported.open_count as reported_open_count,
    expected.open_subtotal as expected_open_subtotal,
    reported.open_subtotal as reported_open_subtotal,
    expected.sold_count as expected_sold_count,
    reported.sold_count as reported_sold_count,
    expected.sold_subtotal as expected_sold_subtotal,
    reported.sold_subtotal as reported_sold_subtotal,
    expected.dismissed_count as expected_dismissed_count,
    reported.dismissed_count as reported_dismissed_count,
    expected.dismissed_subtotal as expected_dismissed_subtotal,
    reported.dismissed_subtotal as reported_dismissed_subtotal,
    reported.rows_not_adding_up
from reported
full outer join expected
    on reported.tenant_id = expected.tenant_id
    and reported.business_unit_id is not distinct from expected.business_unit_id
where reported.open_count is distinct from expected.open_count
    or reported.open_subtotal is distinct from expected.open_subtotal
    or reported.sold_count is distinct from expected.sold_count
    or reported.sold_subtotal is distinct from expected.sold_subtotal
    or reported.dismissed_count is distinct from expected.dismissed_count
    or reported.dismissed_subtotal is distinct from expected.dismissed_subtotal
    or reported.rows_not_adding_up > 0
