{#
    A ServiceTitan duration (OpenAPI `format: duration`, e.g. a call's `duration`) as a whole
    number of seconds (BIGINT). ServiceTitan serialises .NET TimeSpans: `hh:mm:ss`, with a day
    part from 24 hours on (`d.hh:mm:ss`) and fractional seconds when the clock had them
    (`hh:mm:ss.fffffff`), rounded here to the nearest second. The day part is rewritten as
    DuckDB's `d days hh:mm:ss` and the INTERVAL's epoch taken, so no hand-written arithmetic.

    Empty strings are missing; anything else (a negative span included) fails the query rather
    than silently becoming NULL and shortening a total. The error names the value and, through
    `record_label` (a SQL expression, e.g. `'call ' || id`), the record it came from.
#}
{% macro st_duration_seconds(json_text, record_label="'a record'") -%}
    case
        when nullif(trim({{ json_text }}), '') is null then null
        when regexp_matches(trim({{ json_text }}), '^(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d+)?$')
            then cast(round(epoch(cast(
                regexp_replace(trim({{ json_text }}), '^(\d+)\.(\d{1,2}:)', '\1 days \2')
                as interval
            ))) as bigint)
        else error(
            'not a ServiceTitan duration ([d.]hh:mm:ss) in ' || ({{ record_label }}) || ': '
            || ({{ json_text }})
        )
    end
{%- endmacro %}
