{#
    The building blocks of the incremental facts (docs/incremental.md). An incremental fact
    rebuilds, on each run, only the rows whose inputs may have changed since its last build:

    * `incremental_watermark()`: raw rows loaded after this (of any of the fact's inputs) are
      new or re-modified since the fact's last build. It is the greatest `_loaded_at` of the
      raw layer that build saw (`record_incremental_watermark`, its post-hook). Every raw write
      of a DuckDB file happens before or after a build, never during it (one writer at a
      time), so every row loaded since that build is newer. On a warehouse where a sync can
      commit while dbt builds (a DuckLake), the dbt var `incremental_lookback_minutes` re-reads
      that many minutes before the watermark as well (default 0).
    * `stale_stored_rows(...)`: the keys of the fact's built rows whose copy of another
      table's value (a dimension's name, a merged customer's survivor, an aggregate over child
      rows) differs from that value now: the rows to rebuild when only the *other* table
      changed. It compares values, not load times, so it is right whatever changed there
      (updated, merged, re-parented, deleted).
    * `delete_rows_gone_from(...)`: a post-hook deleting the built rows whose driving record
      is no longer in the raw layer (an entity re-synced from scratch drops records that are
      gone at the source), which the `delete+insert` strategy alone never deletes.

    Every fact's grain includes `tenant_id`: many tenants share a table.
#}

{% macro incremental_watermark() -%}
    {%- set lookback = var('incremental_lookback_minutes', 0) | int -%}
    {%- set recorded = "select max(loaded_through) from " ~ incremental_watermarks_table()
        ~ " where model = '" ~ this.identifier ~ "'" -%}
    {#- Built before watermarks were recorded: the fact's own newest row is older than its
        build, so it re-reads more than needed, never less. -#}
    {%- set own_newest = "select max(loaded_at) from " ~ this -%}
    (select coalesce(({{ recorded }}), ({{ own_newest }}), cast('-infinity' as timestamptz))
        - interval '{{ lookback }} minutes')
{%- endmacro %}


{#
    The table of watermarks: one row appended per build of an incremental fact, `model`, the
    greatest `_loaded_at` of the raw layer when it was built (`loaded_through`) and when
    (`built_at`). Append-only, so that facts built side by side never conflict (on a DuckLake
    two transactions that update or delete rows of one table do); a model's greatest
    `loaded_through` is its watermark. In a schema of its own, so that `main` holds only marts and reports.
    In the target's own database: on a DuckLake the connection's default catalog is an
    in-memory one, and a transaction may write only one database (the fact's and this one).
#}
{% macro incremental_watermarks_schema() -%}
    {#- `target` is dbt's; sqlfluff's templater (make lint) has none. -#}
    {%- if target is defined -%}"{{ target.database }}".{%- endif -%}dbt_incremental
{%- endmacro %}

{% macro incremental_watermarks_table() -%}
    {{ incremental_watermarks_schema() }}.watermarks
{%- endmacro %}


{# on-run-start: the watermarks' schema and table, once, before any fact is built. #}
{% macro create_incremental_watermarks() -%}
    create schema if not exists {{ incremental_watermarks_schema() }};
    create table if not exists {{ incremental_watermarks_table() }} (
        model varchar not null,
        loaded_through timestamptz,
        built_at timestamptz not null
    )
{%- endmacro %}


{#
    Post-hook of every incremental fact: append its watermark, the greatest `_loaded_at` of
    every raw table now (the same snapshot the build read: hooks run in its transaction).
#}
{% macro record_incremental_watermark() -%}
    {%- set newest_loads = ["select cast(null as timestamptz) as loaded_at"] -%}
    {%- for relation in existing_source_relations('servicetitan') -%}
        {%- set _ = newest_loads.append("select max(_loaded_at) as loaded_at from " ~ relation) -%}
    {%- endfor -%}
    insert into {{ incremental_watermarks_table() }} (model, loaded_through, built_at)
    select
        '{{ this.identifier }}',
        max(raw_loads.loaded_at),
        now()
    from ({{ newest_loads | join(' union all ') }}) as raw_loads
{%- endmacro %}


{#
    Keys (`keys`, columns of the fact) of built rows for which some `(stored_column,
    current_expression)` of `columns` differ (NULLs compare equal). `lookup` is the relation
    holding the current values, aliased `latest` and left-joined on `on` (a condition over
    `built` and `latest`), so a built row whose lookup row is gone compares with NULL.
#}
{% macro stale_stored_rows(keys, lookup, on, columns) -%}
    {%- set conditions = [] -%}
    {%- for stored_column, current_expression in columns -%}
        {%- set _ = conditions.append(
            'built.' ~ stored_column ~ ' is distinct from ' ~ current_expression
        ) -%}
    {%- endfor -%}
    select {{ 'built.' ~ keys | join(', built.') }}
    from {{ this }} as built
    left join {{ lookup }} as latest
        on {{ on }}
    where {{ conditions | join(' or ') }}
{%- endmacro %}


{#
    Keys of built rows of a tenant whose connection was renamed since: every mart shows the
    tenant's latest connection name (select_with_connection_name), so a rename rebuilds the
    tenant's rows.
#}
{% macro renamed_tenant_rows(keys) -%}
    {{ stale_stored_rows(
        keys,
        ref('int_tenants'),
        'built.tenant_id = latest.tenant_id',
        [('connection_name', 'latest.connection_name')]
    ) }}
{%- endmacro %}


{#
    Keys of built rows whose `customer_column` (a column of the fact, or an expression over
    `built`) now resolves to another surviving customer than the built
    `surviving_customer_id`: a merge (or a chain of merges) re-resolved it.
#}
{% macro re_merged_customer_rows(keys, customer_column='built.customer_id') -%}
    {{ stale_stored_rows(
        keys,
        ref('int_customers__merge_resolved'),
        'built.tenant_id = latest.tenant_id and ' ~ customer_column ~ ' = latest.customer_id',
        [(
            'surviving_customer_id',
            'coalesce(latest.surviving_customer_id, ' ~ customer_column ~ ')'
        )]
    ) }}
{%- endmacro %}


{#
    Post-hook: delete the built rows whose record is no longer in the raw table `raw` (an
    entity re-synced from scratch drops the records gone at the source), which `delete+insert`
    alone never deletes. `keys`: `(fact column, raw column)` pairs besides the tenant;
    `raw_filter`: a condition over `raw` when the fact keeps only some raw rows. Raw columns
    only (no JSON), so it is a cheap anti-join. Only on an incremental run.
#}
{% macro delete_rows_gone_from(raw, keys, raw_filter=none) -%}
    {%- set conditions = ['raw._tenant_id = built.tenant_id'] -%}
    {%- for fact_column, raw_column in keys -%}
        {%- set _ = conditions.append('raw.' ~ raw_column ~ ' = built.' ~ fact_column) -%}
    {%- endfor -%}
    {%- if raw_filter -%}
        {%- set _ = conditions.append(raw_filter) -%}
    {%- endif -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as built
        where not exists (select 1 from {{ raw }} as raw where {{ conditions | join(' and ') }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
