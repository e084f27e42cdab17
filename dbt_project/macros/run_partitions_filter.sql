{#- Tests of whole-history models check only the round partitions of this run, when the run
    names them (a new round does not re-test every earlier round); a plain `dbt build`
    tests everything. -#}
{% macro run_partitions_filter(column='partition_key') -%}
    {%- set partitions = var('round_partitions', []) -%}
    {%- if partitions | length > 0 -%}
        {{ column }} in (
            {%- for key in partitions %}'{{ key }}'{{ "," if not loop.last }}{% endfor -%}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
