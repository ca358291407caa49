{#
    The tenants of this warehouse, one row per ServiceTitan tenant with any synced record, and
    the name of its connection: int_tenants (the rules are there), as a table for analysts.

    It depends on every raw table (the lines below declare them), so Dagster shows it
    downstream of every entity and rebuilds it after any sync; a build where some entity was
    never synced leaves it out. The marts and reports do not read it: they join int_tenants
    themselves, so they are never held back by it.
#}
{%- for table in servicetitan_source_tables() %}
-- depends_on: {{ source('servicetitan', table) }}
{%- endfor %}

select * from {{ ref('int_tenants') }}
