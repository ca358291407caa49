{#
    How many invoices a group of invoice rows counts: active (revenue) invoices that are not
    adjustments and not $0. ServiceTitan opens an empty invoice with every job; it adds no
    revenue and is not an invoice anyone sent. Adjustments are counted apart
    (`adjustment_count`), their revenue is not.
#}
{% macro invoice_count() -%}
    count(*) filter (where is_revenue and not is_adjustment and total <> 0)
{%- endmacro %}
