{#- Running totals back to monthly figures (int_cluster_reach_monthly). Rows are grouped from
    each running-total month (anchor_group); a group's running total is its anchor's value plus
    the monthly figures after it, and a month's own figure is the change of the running total. -#}

{% macro running_total(measure, series) -%}
    coalesce(max(case when is_running_total then {{ measure }} end) over (
        partition by {{ series }}, anchor_group
    ), 0)
    + sum(case when is_running_total then 0 else coalesce({{ measure }}, 0) end) over (
        partition by {{ series }}, anchor_group order by reporting_month
        rows between unbounded preceding and current row
    )
{%- endmacro %}

{% macro month_of_running_total(measure, series) -%}
    case
        when {{ measure }} is not null
            then running_{{ measure }} - coalesce(lag(running_{{ measure }}) over (
                partition by {{ series }} order by reporting_month
            ), 0)
    end
{%- endmacro %}

{% macro columns_equal(left, right, columns) -%}
    {%- for column in columns %}
    {{ "and " if not loop.first }}{{ left }}.{{ column }} = {{ right }}.{{ column }}
    {%- endfor %}
{%- endmacro %}
