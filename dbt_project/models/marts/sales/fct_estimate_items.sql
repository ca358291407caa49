{#
    One row per item of an estimate (stg_servicetitan__estimate_items, unnested there), with its
    estimate's status, business unit and customer after merges from fct_estimates, so items
    group by what was sold, dismissed or is still open without another join. Key: (tenant_id,
    estimate_id, item_index), the item's position in the estimate.
#}

with

items as (

    select * from {{ ref('stg_servicetitan__estimate_items') }}

),

estimates as (

    select * from {{ ref('fct_estimates') }}

),

final as (

    select
        -- keys
        items.tenant_id,
        items.estimate_id,
        items.item_index,
        items.estimate_item_id,
        items.job_id,
        estimates.surviving_customer_id,
        items.location_id,
        estimates.business_unit_id,
        estimates.sold_by_technician_id,
        items.sku_id,
        items.general_ledger_account_id,
        items.membership_type_id,
        items.invoice_item_id,

        -- attributes
        items.sku_name,
        items.sku_display_name,
        items.sku_type,
        items.general_ledger_account_name,
        items.description,
        items.item_group_name,
        estimates.estimate_status,

        -- flags
        items.is_estimate_active,
        estimates.is_sold as is_estimate_sold,
        items.is_chargeable,

        -- quantities and money (exact)
        items.quantity,
        items.unit_rate,
        items.total,
        items.unit_cost,
        items.total_cost,
        cast(items.total - coalesce(items.total_cost, 0) as decimal(18, 2)) as gross_margin,
        items.sold_hours,

        -- dates (UTC)
        items.created_at,
        items.modified_at,
        estimates.sold_date,
        items.loaded_at

    from items
    {{ join_within_tenant('items', 'estimates', 'estimate_id') }}

)

{{ select_with_connection_name('final') }}
