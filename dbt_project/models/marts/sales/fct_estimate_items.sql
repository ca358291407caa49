{#
    One row per item of an estimate (stg_servicetitan__estimate_items, unnested there), with its
    estimate's status, business unit and customer after merges from fct_estimates, so items
    group by what was sold, dismissed or is still open without another join. Key: (tenant_id,
    estimate_id, item_index), the item's position in the estimate.
#}

{#
    Incremental (docs/incremental.md): the estimate is the record, its items (unnested from it)
    its parts, so the estimate is the unit rebuilt (`unique_key` tenant and estimate, so an item
    the estimate no longer lists is gone too): each run rebuilds the items of the estimates
    loaded since the last build, of those whose columns here changed in fct_estimates, and
    every item of a renamed tenant.
#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'estimate_id'],
    post_hook=[
        "{{ delete_rows_gone_from(source('servicetitan', 'estimates'), [('estimate_id', 'id')]) }}",
        "{{ record_incremental_watermark() }}",
    ]
) }}
-- depends_on: {{ source('servicetitan', 'estimates') }}
-- depends_on: {{ ref('stg_servicetitan__estimates') }}

with

{%- if is_incremental() %}

    to_rebuild as (

        select
            tenant_id,
            estimate_id
        from {{ ref('stg_servicetitan__estimates') }}
        where loaded_at > {{ incremental_watermark() }}

        union

        {{ stale_stored_rows(
            ['tenant_id', 'estimate_id'],
            ref('fct_estimates'),
            'built.tenant_id = latest.tenant_id and built.estimate_id = latest.estimate_id',
            [
                ('surviving_customer_id', 'latest.surviving_customer_id'),
                ('business_unit_id', 'latest.business_unit_id'),
                ('sold_by_technician_id', 'latest.sold_by_technician_id'),
                ('estimate_status', 'latest.estimate_status'),
                ('is_estimate_sold', 'latest.is_sold'),
                ('sold_date', 'latest.sold_date'),
            ]
        ) }}

        union

        {{ renamed_tenant_rows(['tenant_id', 'estimate_id']) }}

    ),

{%- endif %}

items as (

    select all_items.*
    from {{ ref('stg_servicetitan__estimate_items') }} as all_items
    {% if is_incremental() -%}
        {{ join_within_tenant('all_items', 'to_rebuild', 'estimate_id', join_type='inner') }}
    {%- endif %}

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
