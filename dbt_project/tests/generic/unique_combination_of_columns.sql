{#- The combination of these columns is unique (dbt_utils' test, kept here so the project
    needs no package download). On a model that declares its round column, only the rows of
    the run's rounds are checked (get_where_subquery in macros/round_conditions.sql). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
