{#
    A span of whole microseconds (a BIGINT, e.g. `date_diff('microsecond', arrived, done)`) as
    hours, DECIMAL(18,4), exact: rounded half up in integers rather than through DOUBLE, whose
    rounding of a value such as 0.00005 h is arbitrary. Timestamps carry fractions of a second,
    so spans are kept in microseconds (date_diff in seconds counts second boundaries, which
    drifts by up to a second per span). NULL stays NULL; the span must not be negative.
#}
{% macro hours_from_microseconds(microseconds) -%}
    cast(
        cast((({{ microseconds }}) * 2 + 360000) // 720000 as decimal(18, 0))
        * cast(0.0001 as decimal(5, 4))
        as decimal(18, 4)
    )
{%- endmacro %}
