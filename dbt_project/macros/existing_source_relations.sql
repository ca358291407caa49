{#
    The tables of dbt source `source_name` that exist in the warehouse now and hold rows, sorted
    by name: a list of relations, empty while dbt parses (nothing is read then).

    For a model that reads whatever raw tables have been synced so far (int_tenants): a table
    is listed only if it exists, so an entity that was never synced is simply not read, and
    only if DuckDB counts rows in it (`duckdb_tables().estimated_size`, which counts every row
    written and never drops below the table's rows), so an empty table costs no scan.
    (`graph` is dbt's; SQL lint renders models without it, and gets an empty list.)
#}
{% macro existing_source_relations(source_name) -%}
    {%- set relations = [] -%}
    {%- if execute and graph is defined -%}
        {%- set tables_with_rows = run_query(
            "select lower(database_name || '.' || schema_name || '.' || table_name) "
            ~ "from duckdb_tables() where estimated_size > 0"
        ).columns[0].values() -%}
        {%- for node in graph.sources.values() | sort(attribute='name') -%}
            {%- if node.source_name == source_name
                and (node.database ~ '.' ~ node.schema ~ '.' ~ node.identifier) | lower
                in tables_with_rows -%}
                {%- set _ = relations.append(api.Relation.create(
                    database=node.database, schema=node.schema, identifier=node.identifier
                )) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(relations) }}
{%- endmacro %}
