{#- The form two spellings of a name share: ASCII letters and digits, lower case
    (the same rule as orchestration.reference.normalise_header). -#}
{% macro name_key(expression) -%}
    regexp_replace(lower(trim({{ expression }})), '[^a-z0-9]', '', 'g')
{%- endmacro %}
