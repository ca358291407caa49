{#
    One row per active job split: a technician's share of a job's revenue credit, with the
    job's business unit and month of completion, and the share of the job's invoice subtotal
    that the share credits, allocated to the cent so that a job's splits add up exactly to its
    subtotal. The allocation rule and its sources are in _payroll__models.yml.
#}

{#
    Incremental (docs/incremental.md): a job's splits share its subtotal (the cents are
    allocated across them), so the job is the unit rebuilt (`unique_key` tenant and job): each
    run rebuilds the jobs with a split loaded since the last build (before and after a move),
    those whose business unit, job type, completion or invoice subtotal changed, and every job
    of a renamed tenant. Inactive splits are not in the fact: the post-hook deletes a split
    deactivated since.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'job_id'],
    post_hook=[
        "{{ delete_rows_gone_from(source('servicetitan', 'job_splits'), [('job_split_id', 'id')], raw_filter='raw.active') }}",
        "{{ record_incremental_watermark() }}",
    ]
) }}
-- depends_on: {{ source('servicetitan', 'job_splits') }}

with

{%- if is_incremental() %}

    splits_loaded_since as (

        select
            tenant_id,
            job_split_id,
            job_id
        from {{ ref('stg_servicetitan__job_splits') }}
        where loaded_at > {{ incremental_watermark() }}

    ),

    jobs_to_rebuild as (

        select
            tenant_id,
            job_id
        from splits_loaded_since
        where job_id is not null

        union

        select
            built.tenant_id,
            built.job_id
        from {{ this }} as built
        inner join splits_loaded_since
            on built.tenant_id = splits_loaded_since.tenant_id
            and built.job_split_id = splits_loaded_since.job_split_id

        union

        {{ stale_stored_rows(
            ['tenant_id', 'job_id'],
            ref('fct_jobs'),
            'built.tenant_id = latest.tenant_id and built.job_id = latest.job_id',
            [
                ('business_unit_id', 'latest.business_unit_id'),
                ('business_unit_name', 'latest.business_unit_name'),
                ('job_type_id', 'latest.job_type_id'),
                ('is_completed', 'latest.is_completed'),
                ('completed_date', 'latest.completed_date'),
            ]
        ) }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'job_id'],
            ref('int_job_outcomes'),
            'built.tenant_id = latest.tenant_id and built.job_id = latest.job_id',
            [
                ('completed_month', 'latest.completed_month'),
                ('job_invoice_subtotal', 'coalesce(latest.invoice_subtotal, 0)'),
            ]
        ) }}

        union

        {{ renamed_tenant_rows(['tenant_id', 'job_id']) }}

    ),

{%- endif %}

splits as (

    select all_splits.*
    from {{ ref('stg_servicetitan__job_splits') }} as all_splits
    {% if is_incremental() -%}
        {{ join_within_tenant('all_splits', 'jobs_to_rebuild', 'job_id', join_type='inner') }}
    {%- endif %}
    where all_splits.is_active

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
