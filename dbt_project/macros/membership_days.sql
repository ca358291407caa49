{#
    Whether a membership's term and one of its status stretches both cover a day, the rule
    every membership count by day uses (int_memberships__month_states and the reconciliation
    test assert_memberships_active_counts_reconcile_with_fct_memberships):

      - the term covers `day`: `start_date <= day < end_date` (open-ended without `end_date`);
        a renewal starts the day its predecessor ends, so a member is never counted twice;
      - the stretch `[valid_from_date, valid_to_date)` of int_memberships__status_intervals
        covers `day` (NULL bounds are open): its status is the status at the end of that day.

    `membership` is the alias of a relation with `start_date`, `end_date`; `stretch` one of
    int_memberships__status_intervals; `day` a DATE expression.
#}
{% macro membership_covers_day(membership, stretch, day) -%}
    {{ membership }}.start_date <= {{ day }}
    and ({{ membership }}.end_date is null or {{ membership }}.end_date > {{ day }})
    and ({{ stretch }}.valid_from_date is null or {{ stretch }}.valid_from_date <= {{ day }})
    and ({{ stretch }}.valid_to_date is null or {{ stretch }}.valid_to_date > {{ day }})
{%- endmacro %}
