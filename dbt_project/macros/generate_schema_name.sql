{#- Layers live in schemas named for the layer (staging, intermediate, marts, reference),
    not <target>_<layer>, so BI users and the published file see plain names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
