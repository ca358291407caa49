{#
    The tenants of this warehouse, one row per ServiceTitan tenant that has any synced record,
    with the name of its connection (the company as the connections file names it): what
    dim_tenants holds, and what every mart and report joins for its `connection_name`
    (select_with_connection_name).

    Read from every raw table of the `servicetitan` source that exists when the model is built:
    each raw row carries the tenant (`_tenant_id`), the name of the connection that loaded it
    (`_connection`) and when (`_loaded_at`). A connection can be renamed in the connections
    file; the name is the one of the tenant's most recent load (ties, two names loaded at the
    same instant, go to the name first in alphabetical order, so a rebuild gives the same
    answer).

    Ephemeral, and the raw tables listed when it runs rather than declared: a mart must not
    wait for, or be held back by, raw tables it does not read (an entity never synced has no
    table; Dagster builds only the models downstream of the synced entities), yet its tenants'
    names must be the same as every other model's. Each model that joins it reads the raw
    tables' three lineage columns once.
#}
{{ config(materialized='ephemeral') }}

{%- set raw_tables = existing_source_relations('servicetitan') %}

with

loads as (

    -- typed and empty, so that the union has its column types without any raw table
    select
        cast(null as bigint) as tenant_id,
        cast(null as varchar) as connection_name,
        cast(null as timestamptz) as first_loaded_at,
        cast(null as timestamptz) as last_loaded_at
    where false
    {% for relation in raw_tables %}
        union all
        select
            _tenant_id as tenant_id,
            _connection as connection_name,
            min(_loaded_at) as first_loaded_at,
            max(_loaded_at) as last_loaded_at
        from {{ relation }}
        group by _tenant_id, _connection
    {% endfor %}

),

names as (

    select
        tenant_id,
        connection_name,
        max(last_loaded_at) as last_loaded_at
    from loads
    group by tenant_id, connection_name

),

latest_names as (

    select
        tenant_id,
        connection_name,
        row_number() over (
            partition by tenant_id
            order by last_loaded_at desc, connection_name asc
        ) as recency
    from names

),

tenants as (

    select
        tenant_id,
        min(first_loaded_at) as first_loaded_at,
        max(last_loaded_at) as last_loaded_at,
        count(distinct connection_name) as connection_name_count
    from loads
    group by tenant_id

),

final as (

    select
        tenants.tenant_id,
        latest_names.connection_name,
        tenants.connection_name_count,
        tenants.first_loaded_at,
        tenants.last_loaded_at
    from tenants
    inner join latest_names
        on tenants.tenant_id = latest_names.tenant_id
    where latest_names.recency = 1

)

select * from final
