{#
    A select of each tenant's AR as-of date (`tenant_id`, `as_of_date`) from `invoices` (a
    relation with fct_invoices' `tenant_id` and `loaded_at`): the UTC date of the tenant's
    latest invoice load, the day ServiceTitan's balances were read. The dbt var `ar_as_of_date`,
    else the environment's SERVICETITAN_AR_AS_OF_DATE (for runs started by Dagster, which passes
    no vars), sets one date for every tenant instead.

    One rule for rpt_ar_aging and rpt_group_monthly, so that the group report's receivables at
    the as-of date are the aging's.
#}
{% macro ar_as_of_dates(invoices) -%}
    {%- set as_of_override = var('ar_as_of_date', env_var('SERVICETITAN_AR_AS_OF_DATE', '')) -%}
    {%- if as_of_override -%}
        {%- set as_of_date = "cast('" ~ as_of_override ~ "' as date)" -%}
    {%- else -%}
        {%- set as_of_date = st_utc_date('max(loaded_at)') -%}
    {%- endif -%}
    select
        tenant_id,
        {{ as_of_date }} as as_of_date
    from {{ invoices }}
    group by tenant_id
{%- endmacro %}
