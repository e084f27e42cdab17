{#- The round partitions a Dagster run names in --vars (round_partitions). -#}

{#- Incremental facts rebuild only the run's rounds (delete+insert by partition); a full
    refresh, or a run that names no round, rebuilds every round. -#}
{% macro incremental_rounds_condition(column='partition_key') -%}
    {%- if is_incremental() -%}
        {{ tested_rounds_condition(column) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Tests of whole-history models check only the run's rounds when it names them (a new round
    does not re-test every earlier round); a plain `dbt build` tests everything. -#}
{% macro tested_rounds_condition(column='partition_key') -%}
    {%- set partitions = var('round_partitions', []) -%}
    {%- if partitions | length > 0 -%}
        {{ column }} in (
            {%- for key in partitions %}'{{ key }}'{{ "," if not loop.last }}{% endfor -%}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
