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
        {{ invoice_count() }} as invoice_count,
        count(*) filter (where is_revenue and is_adjustment) as adjustment_count,
        {{ money_total('revenue', 'is_revenue') }} as revenue,
        {{ money_total('total', 'is_revenue') }} as total_invoiced,
        {{ money_total('balance', 'is_revenue') }} as open_balance
    from invoices
    where attributed_job_id is not null
    group by tenant_id, attributed_job_id

)

select * from job_revenue
