{#- In an incremental run, only the round partitions Dagster passed in --vars. -#}
{% macro round_partition_filter(column='partition_key') -%}
    {%- set partitions = var('round_partitions', []) -%}
    {%- if is_incremental() and partitions | length > 0 -%}
        where {{ column }} in (
            {%- for key in partitions %}'{{ key }}'{{ "," if not loop.last }}{% endfor -%}
        )
    {%- endif -%}
{%- endmacro %}
