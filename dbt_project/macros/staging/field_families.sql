{#- Helpers of the KI and cluster staging views. -#}

{#- A KoBo choice as its XML name, whether the export wrote the name or the label
    ('Not available' → not_available). -#}
{% macro kobo_choice(expression) -%}
    nullif(regexp_replace(lower(trim({{ expression }})), '\s+', '_', 'g'), '')
{%- endmacro %}

{#- A household estimate; -99, 999 and 9999 are KoBo forms' "don't know". -#}
{% macro ki_count(expression) -%}
    case
        when trim({{ expression }}) in ('-99', '999', '9999') then null
        else {{ to_count(expression) }}
    end
{%- endmacro %}

{#- An HRP code as OCHA writes it: IRQ18/CCCM/124317 (typed with spaces, lower case, dashes);
    the gate's frames use the same rule (orchestration/quality/field_frames.py). -#}
{% macro hrp_code(expression) -%}
    upper(regexp_replace(regexp_replace(trim({{ expression }}), '\s+', '', 'g'), '[-_\\]', '/', 'g'))
{%- endmacro %}

{% macro yes_no(expression) -%}
    case
        when lower(trim({{ expression }})) in ('yes', 'y', 'true', '1') then true
        when lower(trim({{ expression }})) in ('no', 'n', 'false', '0') then false
    end
{%- endmacro %}
