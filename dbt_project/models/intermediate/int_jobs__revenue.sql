{#
    Revenue per job: the pre-tax revenue of the job's active invoices, adjustments included
    (see int_invoices__enriched for which invoices count and why). One row per job that has at
    least one invoice.
#}

with

invoices as (

    select * from {{ ref('int_invoices__enriched') }}

),

job_revenue as (

    select
        tenant_id,
        attributed_job_id as job_id,
        count(*) filter (where is_revenue and not is_adjustment and total <> 0) as invoice_count,
        count(*) filter (where is_revenue and is_adjustment) as adjustment_count,
        cast(coalesce(sum(revenue) filter (where is_revenue), 0) as decimal(18, 2)) as revenue,
        cast(coalesce(sum(total) filter (where is_revenue), 0) as decimal(18, 2)) as total_invoiced,
        cast(coalesce(sum(balance) filter (where is_revenue), 0) as decimal(18, 2)) as open_balance
    from invoices
    where attributed_job_id is not null
    group by tenant_id, attributed_job_id

)

select * from job_revenue
