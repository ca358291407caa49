{#
    Typing helpers for ServiceTitan's JSON. Each takes a SQL expression that yields the field's
    JSON text (e.g. `payload ->> '$.total'`) and returns the typed value.
#}

{#
    Money, exact to the cent. ServiceTitan sends invoice, item and payment amounts as strings
    ("123.45"): the string is cast straight to DECIMAL(18,2), never through DOUBLE, so
    "0.10" + "0.20" is exactly 0.30. A malformed amount fails the build rather than silently
    becoming NULL and skewing a total. Empty strings are treated as missing.
#}
{% macro st_money(json_text) -%}
    cast(nullif(trim({{ json_text }}), '') as decimal(18, 2))
{%- endmacro %}

{#
    Quantities and rates (quantity, hours, tax rates): more than two decimals are meaningful.
#}
{% macro st_decimal(json_text, scale=4) -%}
    cast(nullif(trim({{ json_text }}), '') as decimal(18, {{ scale }}))
{%- endmacro %}

{#
    A UTC instant as TIMESTAMPTZ. ServiceTitan sends ISO 8601 with `Z` (or an offset), which the
    TIMESTAMPTZ cast honours. A string without an offset is read as UTC explicitly, so the
    result never depends on the session's TimeZone setting (an analyst's DuckDB session may not
    be in UTC when it queries the staging views).
#}
{% macro st_timestamp(json_text) -%}
    case
        when nullif(trim({{ json_text }}), '') is null then null
        when regexp_matches({{ json_text }}, '[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$')
            then cast({{ json_text }} as timestamptz)
        else timezone('UTC', cast({{ json_text }} as timestamp))
    end
{%- endmacro %}

{#
    The UTC calendar date of a TIMESTAMPTZ. ServiceTitan's business dates (invoiceDate, dueDate)
    are midnight UTC; converting them to a local zone first would move them to the previous day.
#}
{% macro st_utc_date(timestamptz_expr) -%}
    cast(timezone('UTC', {{ timestamptz_expr }}) as date)
{%- endmacro %}

{# A JSON boolean (true/false) as BOOLEAN. #}
{% macro st_bool(json_text) -%}
    cast({{ json_text }} as boolean)
{%- endmacro %}

{# A JSON integer id as BIGINT. #}
{% macro st_id(json_text) -%}
    cast({{ json_text }} as bigint)
{%- endmacro %}

{# A JSON array of integer ids (tagTypeIds, zoneIds, ...) as BIGINT[]; NULL stays NULL. #}
{% macro st_id_list(json_expr) -%}
    cast(from_json({{ json_expr }}, '["BIGINT"]') as bigint[])
{%- endmacro %}

{#
    The six text fields of a ServiceTitan address object (street, unit, city, state, zip,
    country) as `<prefix>_street`, ... columns. `json_path` is the object's path in the payload,
    e.g. `$.address` or `$.customerAddress`.
#}
{% macro st_address(json_path, prefix) -%}
    {%- for field in ['street', 'unit', 'city', 'state', 'zip', 'country'] %}
        payload ->> '{{ json_path }}.{{ field }}' as {{ prefix }}_{{ field }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#
    The columns every staging model of a raw table ends with: `created_at` (createdOn),
    `modified_at` (the raw layer's `modified_on`, the modifiedOn the sync follows; NULL where
    ServiceTitan omits it, as invoices may), then the lineage of the row: `connection_name` and
    `loaded_at` (which connection loaded it, and when).
#}
{% macro st_record_timestamps_and_lineage() -%}
    {{ st_timestamp("payload ->> '$.createdOn'") }} as created_at,
        modified_on as modified_at,
        _connection as connection_name,
        _loaded_at as loaded_at
{%- endmacro %}
