{#
    One row per active job split: a technician's share of a job's revenue credit, with the
    job's business unit and month of completion, and the share of the job's invoice subtotal
    that the share credits, allocated to the cent so that a job's splits add up exactly to its
    subtotal. The allocation rule and its sources are in _payroll__models.yml.
#}

with

splits as (

    select * from {{ ref('stg_servicetitan__job_splits') }}
    where is_active

),

job_outcomes as (

    select * from {{ ref('int_job_outcomes') }}

),

jobs as (

    select * from {{ ref('fct_jobs') }}

),

-- the active splits of a job, with the percentages they add up to: ServiceTitan keeps them at
-- 100, but a job whose splits were edited mid-way may sum to something else, and the revenue
-- credit is then shared in proportion to the percentages rather than over- or under-credited
split_shares as (

    select
        splits.tenant_id,
        splits.job_split_id,
        splits.job_id,
        splits.technician_id,
        splits.split_percent,
        splits.created_at,
        splits.modified_at,
        splits.loaded_at,
        sum(splits.split_percent) over (
            partition by splits.tenant_id, splits.job_id
        ) as job_split_percent_total,
        count(*) over (partition by splits.tenant_id, splits.job_id) as job_split_count
    from splits

),

-- largest-remainder allocation in integer cents: every split gets the floor of its exact
-- share, and the cents the floors leave over go one each to the largest remainders (ties to
-- the lower technician id, then split id), so the shares sum exactly to the subtotal whatever
-- the percentages and the same input always gives the same cents
floored as (

    select
        split_shares.*,
        coalesce(job_outcomes.invoice_subtotal, 0) as invoice_subtotal,
        cast(coalesce(job_outcomes.invoice_subtotal, 0) * 100 as hugeint) as subtotal_cents,
        -- a job whose splits are all 0% shares its credit equally rather than not at all
        cast(coalesce(job_outcomes.invoice_subtotal, 0) * 100 as hugeint) * case
            when split_shares.job_split_percent_total > 0
                then cast(split_shares.split_percent * 10000 as hugeint)
            else 1
        end as share_numerator,
        case
            when split_shares.job_split_percent_total > 0
                then cast(split_shares.job_split_percent_total * 10000 as hugeint)
            else split_shares.job_split_count
        end as share_denominator
    from split_shares
    {{ join_within_tenant('split_shares', 'job_outcomes', 'job_id') }}

),

remainders as (

    select
        floored.*,
        -- floor division toward minus infinity, so a credit (a negative subtotal) is shared
        -- with the same rule as a sale
        case
            when floored.share_numerator >= 0
                then floored.share_numerator // floored.share_denominator
            else -(
                    (-floored.share_numerator + floored.share_denominator - 1)
                    // floored.share_denominator
                )
        end as floor_cents
    from floored

),

ranked as (

    select
        remainders.*,
        remainders.subtotal_cents - sum(remainders.floor_cents) over (
            partition by remainders.tenant_id, remainders.job_id
        ) as cents_left_over,
        row_number() over (
            partition by remainders.tenant_id, remainders.job_id
            order by
                -- the remainder of the split's exact share, in units of 1/denominator cent
                remainders.share_numerator
                - remainders.floor_cents * remainders.share_denominator desc,
                remainders.technician_id asc,
                remainders.job_split_id asc
        ) as remainder_rank
    from remainders

),

final as (

    select
        ranked.tenant_id,
        ranked.job_split_id,
        ranked.job_id,
        ranked.technician_id,
        jobs.business_unit_id,
        jobs.business_unit_name,
        jobs.job_type_id,
        jobs.is_completed,
        jobs.completed_date,
        job_outcomes.completed_month,
        ranked.split_percent,
        ranked.job_split_percent_total,
        ranked.job_split_count,
        ranked.invoice_subtotal as job_invoice_subtotal,
        cast(
            cast(
                ranked.floor_cents
                + case when ranked.remainder_rank <= ranked.cents_left_over then 1 else 0 end
                as decimal(18, 0)
            ) * cast(0.01 as decimal(3, 2))
            as decimal(18, 2)
        ) as credited_subtotal,
        ranked.created_at,
        ranked.modified_at,
        ranked.loaded_at
    from ranked
    {{ join_within_tenant('ranked', 'jobs', 'job_id') }}
    {{ join_within_tenant('ranked', 'job_outcomes', 'job_id') }}

)

{{ select_with_connection_name('final') }}
