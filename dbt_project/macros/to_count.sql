{#- A count cell as text ('277,518', '6', '6.0', '') to an integer; anything else is null
    and left for the quality gates to report. -#}
{% macro to_count(expression) -%}
    try_cast(try_cast(replace(trim({{ expression }}), ',', '') as double) as bigint)
{%- endmacro %}
