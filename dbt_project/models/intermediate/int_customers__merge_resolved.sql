{#
    Maps every customer to the customer that survives its merges.

    When two customer records are merged in ServiceTitan, the losing record stays (inactive, with
    `mergedToId`) and its history keeps pointing at it: invoices, jobs and payments are NOT
    re-parented in the export. Merges can chain (A into B, later B into C), so `mergedToId` is
    followed until a customer that is not merged (or whose target was never loaded). A cycle,
    which ServiceTitan should never produce, stops at the depth limit instead of looping.
#}

with recursive

customers as (

    select * from {{ ref('stg_servicetitan__customers') }}

),

merge_chain as (

    -- start: every customer points at itself
    select
        tenant_id,
        customer_id,
        customer_id as surviving_customer_id,
        0 as merge_depth
    from customers

    union all

    -- step: follow mergedToId one hop, when the target was loaded
    select
        merge_chain.tenant_id,
        merge_chain.customer_id,
        merge_target.customer_id as surviving_customer_id,
        merge_chain.merge_depth + 1 as merge_depth
    from merge_chain
    inner join customers as current_customer
        on merge_chain.tenant_id = current_customer.tenant_id
        and merge_chain.surviving_customer_id = current_customer.customer_id
    inner join customers as merge_target
        on current_customer.tenant_id = merge_target.tenant_id
        and current_customer.merged_to_customer_id = merge_target.customer_id
    where merge_chain.merge_depth < 20

),

resolved as (

    select
        tenant_id,
        customer_id,
        surviving_customer_id,
        merge_depth
    from merge_chain
    qualify
        row_number() over (partition by tenant_id, customer_id order by merge_depth desc) = 1

)

select * from resolved
