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

{#- A pre-hook of the incremental facts: the run's rounds are emptied first, so a round whose
    batches were all quarantined or rejected leaves the facts (delete+insert alone deletes only
    the rounds the new rows hold). A run that names no round rebuilds every round, so it
    empties every round. -#}
{% macro clear_run_rounds(column='partition_key') -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ tested_rounds_condition(column) }}
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
