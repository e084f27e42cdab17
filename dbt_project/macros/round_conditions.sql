{#- The rounds a build covers. A Dagster run lists them in raw.dbt_build_rounds and passes the
    constant --vars {"build_rounds": "listed"}: the rounds are data, not a variable, because a
    changed --vars makes dbt parse the whole project again (about 12 s a build, measured). A
    plain `dbt build` (build_rounds: every) covers every round. -#}

{#- Incremental facts rebuild only the run's rounds (delete+insert by partition); a full
    refresh rebuilds every round. -#}
{% macro incremental_rounds_condition(column='partition_key') -%}
    {%- if is_incremental() -%}
        {{ tested_rounds_condition(column) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- A pre-hook of the incremental facts: the run's rounds are emptied first, so a round whose
    batches were all quarantined or rejected leaves the facts (delete+insert alone deletes only
    the rounds the new rows hold). -#}
{% macro clear_run_rounds(column='partition_key') -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ tested_rounds_condition(column) }}
    {%- endif -%}
{%- endmacro %}

{#- Tests of whole-history models check only the run's rounds (a new round does not re-test
    every earlier round); a plain `dbt build` tests everything. -#}
{% macro tested_rounds_condition(column='partition_key') -%}
    {%- if var('build_rounds', 'every') == 'listed' -%}
        {{ column }} in (select partition_key from raw.dbt_build_rounds)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- dbt wraps the model of every generic test in this macro (its `where` config). A model whose
    rows of a round come from that round's batches alone declares the column in its config,
    `meta: {round_column: partition_key}`: its generic tests then check the run's rounds only,
    as its rows of other rounds were checked when they were built. Models that compare a round
    with another (change against the previous round, a submission's latest version) do not
    declare it, and are tested whole. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append(where) -%}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.attached_node) if execute and model.attached_node else none -%}
    {%- set round_column = tested.config.meta.get('round_column') if tested else none -%}
    {%- if round_column -%}
        {%- do conditions.append(tested_rounds_condition(round_column)) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
