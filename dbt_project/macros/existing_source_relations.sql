{#
    The tables of dbt source `source_name` that exist in the warehouse now, sorted by name:
    a list of relations, empty while dbt parses (nothing is read then).

    For a model that reads whatever raw tables have been synced so far (dim_tenants): a table
    is listed only if it exists, so an entity that was never synced is simply not read.
    (`graph` is dbt's; SQL lint renders models without it, and gets an empty list.)
#}
{% macro existing_source_relations(source_name) -%}
    {%- set relations = [] -%}
    {%- if execute and graph is defined -%}
        {%- for node in graph.sources.values() | sort(attribute='name') -%}
            {%- if node.source_name == source_name -%}
                {%- set relation = adapter.get_relation(
                    database=node.database, schema=node.schema, identifier=node.identifier
                ) -%}
                {%- if relation is not none -%}
                    {%- set _ = relations.append(relation) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(relations) }}
{%- endmacro %}
