{#
    More typing helpers for ServiceTitan's JSON (with those of servicetitan_types.sql): the
    formats the staging models of issue #11's entities meet. Like the others, each takes a SQL
    expression that yields the field's JSON text and fails the build on malformed input rather
    than turning it into NULL.
#}

{#
    A calendar date (`format: date`, e.g. installed equipment's replacement dates) as DATE.
    Only its first ten characters are read: a date sent as `2026-03-01T00:00:00Z` is the same
    calendar day, not an instant to move into a time zone.
#}
{% macro st_date(json_text) -%}
    cast(left(nullif(trim({{ json_text }}), ''), 10) as date)
{%- endmacro %}

{#
    A span of time as whole seconds (BIGINT). The spec's `format: duration` is a .NET TimeSpan,
    `[-][d.]hh:mm:ss[.fffffff]` ("07:00:00", "1.02:30:00"); anything else is handed to DuckDB's
    INTERVAL cast (`2 hours`, `1 day 02:00:00`), which fails the build on what it cannot read.
    Fractions of a second are rounded: no ServiceTitan span is that precise.
#}
{% macro st_timespan_seconds(json_text) -%}
    case
        when nullif(trim({{ json_text }}), '') is null then null
        when regexp_matches(trim({{ json_text }}), '^-?(\d+\.)?\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$')
            then cast(round(
                (case when starts_with(trim({{ json_text }}), '-') then -1 else 1 end)
                * (
                    coalesce(cast(nullif(regexp_extract(
                        trim({{ json_text }}), '^-?(\d+)\.\d{1,2}:', 1
                    ), '') as bigint), 0) * 86400
                    + cast(regexp_extract(
                        trim({{ json_text }}), '(\d{1,2}):\d{2}(:\d{2}(\.\d+)?)?$', 1
                    ) as bigint) * 3600
                    + cast(regexp_extract(
                        trim({{ json_text }}), ':(\d{2})(:\d{2}(\.\d+)?)?$', 1
                    ) as bigint) * 60
                    + coalesce(cast(nullif(regexp_extract(
                        trim({{ json_text }}), ':\d{2}:(\d{2}(\.\d+)?)$', 1
                    ), '') as decimal(18, 7)), 0)
                )
            ) as bigint)
        else cast(round(epoch(cast(trim({{ json_text }}) as interval))) as bigint)
    end
{%- endmacro %}

{#
    A JSON array of strings (a zone's cities, a job type's skills) as VARCHAR[]; NULL stays NULL.
#}
{% macro st_text_list(json_expr) -%}
    cast(from_json({{ json_expr }}, '["VARCHAR"]') as varchar[])
{%- endmacro %}

{#
    A strict ServiceTitan duration (a call's `duration`): only `[d.]hh:mm:ss[.fffffff]` is
    accepted and parsed by `st_timespan_seconds`; anything else fails the query with an error
    naming the value and, through `record_label` (a SQL expression, e.g. `'call ' || id`), the
    record it came from, rather than becoming NULL and shortening a total. Empty is missing.
#}
{% macro st_duration_seconds(json_text, record_label="'a record'") -%}
    case
        when nullif(trim({{ json_text }}), '') is null then null
        when regexp_matches(trim({{ json_text }}), '^(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d+)?$')
            then {{ st_timespan_seconds(json_text) }}
        else error(
            'not a ServiceTitan duration ([d.]hh:mm:ss) in ' || ({{ record_label }}) || ': '
            || ({{ json_text }})
        )
    end
{%- endmacro %}
