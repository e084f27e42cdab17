{#- The combination of these columns is unique (dbt_utils' test, kept here so the project
    needs no package download). With per_run_partitions, only the rows of this run's round
    partitions are checked: the rows of other rounds were checked when they were built. -#}
{% test unique_combination_of_columns(model, combination_of_columns, per_run_partitions=false) %}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
{% if per_run_partitions -%}
where {{ tested_rounds_condition() }}
{%- endif %}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
