{#
    `amount / divisor` for money, exact, rounded half away from zero to the cent, as
    DECIMAL(18,2). DuckDB divides DECIMALs in DOUBLE, which can mis-round a half cent (10.005
    is not a double); here the amount is turned into integer cents and divided in integers.
    NULL when the divisor is 0 or NULL. `divisor` must be a positive integer count.
#}
{% macro money_divide(amount, divisor) -%}
    case
        when coalesce({{ divisor }}, 0) = 0 or {{ amount }} is null then null
        else cast(
            cast(
                sign({{ amount }})
                * ((abs(cast({{ amount }} * 100 as hugeint)) * 2 + {{ divisor }}) // (2 * {{ divisor }}))
                as decimal(18, 0)
            ) * cast(0.01 as decimal(3, 2))
            as decimal(18, 2)
        )
    end
{%- endmacro %}

{# A share of a count (0..1), as DOUBLE rounded to 4 places; NULL when the whole is 0. #}
{% macro ratio(part, whole) -%}
    case when coalesce({{ whole }}, 0) = 0 then null
    else round(cast({{ part }} as double) / {{ whole }}, 4) end
{%- endmacro %}

{#
    The sum of a money column over the rows where `where` holds (all rows when omitted), as
    DECIMAL(18,2); 0, not NULL, when no row counts: a bucket or a job with nothing in it is
    worth $0.00.
#}
{% macro money_total(amount, where=none) -%}
    cast(
        coalesce(sum({{ amount }}){% if where %} filter (where {{ where }}){% endif %}, 0)
        as decimal(18, 2)
    )
{%- endmacro %}
