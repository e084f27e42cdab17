{#- Helpers of the KI and cluster staging views. -#}

{#- A KoBo choice as its XML name, whether the export wrote the name or the label
    ('Not available' → not_available). -#}
{% macro kobo_choice(expression) -%}
    nullif(regexp_replace(lower(trim({{ expression }})), '\s+', '_', 'g'), '')
{%- endmacro %}

{% macro yes_no(expression) -%}
    case
        when lower(trim({{ expression }})) in ('yes', 'y', 'true', '1') then true
        when lower(trim({{ expression }})) in ('no', 'n', 'false', '0') then false
    end
{%- endmacro %}
