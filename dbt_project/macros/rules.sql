{#- Generated from orchestration/rules.py by `python -m orchestration.rules`: edit the rule
    there, never here (tests/test_rules_parity.py fails when the two drift apart). -#}

{#- A count cell as text to an integer; anything else is null (gates report it). -#}
{% macro to_count(expression) -%}
    case when regexp_full_match({{ expression }}, '^-?[0-9]+$') then try_cast({{ expression }} as bigint) else try_cast(nullif(regexp_replace(regexp_extract({{ expression }}, '^[ \x{0009}\x{00a0}\x{202f}]*(?:(-?(?:[0-9]{4,}|[0-9]{1,3}(?:[, \x{0009}\x{00a0}\x{202f}][0-9]{3})+))(?:\.0+)?|(-?[0-9]{1,3})(?:\.(?:00?|0{4,}))?)[ \x{0009}\x{00a0}\x{202f}]*$', 1) || regexp_extract({{ expression }}, '^[ \x{0009}\x{00a0}\x{202f}]*(?:(-?(?:[0-9]{4,}|[0-9]{1,3}(?:[, \x{0009}\x{00a0}\x{202f}][0-9]{3})+))(?:\.0+)?|(-?[0-9]{1,3})(?:\.(?:00?|0{4,}))?)[ \x{0009}\x{00a0}\x{202f}]*$', 2), '[, \x{0009}\x{00a0}\x{202f}]', '', 'g'), '') as bigint) end
{%- endmacro %}

{#- A KI household estimate; KoBo's don't-know codes are null. -#}
{% macro ki_count(expression) -%}
    case when trim({{ expression }}) in ('-99', '999', '9999') then null else case when regexp_full_match({{ expression }}, '^-?[0-9]+$') then try_cast({{ expression }} as bigint) else try_cast(nullif(regexp_replace(regexp_extract({{ expression }}, '^[ \x{0009}\x{00a0}\x{202f}]*(?:(-?(?:[0-9]{4,}|[0-9]{1,3}(?:[, \x{0009}\x{00a0}\x{202f}][0-9]{3})+))(?:\.0+)?|(-?[0-9]{1,3})(?:\.(?:00?|0{4,}))?)[ \x{0009}\x{00a0}\x{202f}]*$', 1) || regexp_extract({{ expression }}, '^[ \x{0009}\x{00a0}\x{202f}]*(?:(-?(?:[0-9]{4,}|[0-9]{1,3}(?:[, \x{0009}\x{00a0}\x{202f}][0-9]{3})+))(?:\.0+)?|(-?[0-9]{1,3})(?:\.(?:00?|0{4,}))?)[ \x{0009}\x{00a0}\x{202f}]*$', 2), '[, \x{0009}\x{00a0}\x{202f}]', '', 'g'), '') as bigint) end end
{%- endmacro %}

{#- The form two spellings of a name share: ASCII letters and digits. -#}
{% macro name_key(expression) -%}
    regexp_replace(lower(trim({{ expression }})), '[^a-z0-9]', '', 'g')
{%- endmacro %}

{#- An HRP code as OCHA writes it: IRQ18/CCCM/124317. -#}
{% macro hrp_code(expression) -%}
    upper(regexp_replace(regexp_replace(trim({{ expression }}), '\s+', '', 'g'), '[-_\\]', '/', 'g'))
{%- endmacro %}

{#- A KoBo choice as its XML name, whether the export wrote the name or the label ('Not available' → not_available). -#}
{% macro kobo_choice(expression) -%}
    nullif(regexp_replace(lower(trim({{ expression }})), '\s+', '_', 'g'), '')
{%- endmacro %}

{#- The words (choices) of a KoBo select_multiple cell. -#}
{% macro kobo_choices(expression) -%}
    string_split(lower(trim({{ expression }})), ' ')
{%- endmacro %}

{#- KoBo's validation status, field name or label: approved, not_approved, on_hold or null. -#}
{% macro validation_status(expression) -%}
    nullif(replace(nullif(regexp_replace(lower(trim({{ expression }})), '\s+', '_', 'g'), ''), 'validation_status_', ''), '')
{%- endmacro %}

{#- A sheet's yes/no flag as a boolean; anything else is null. -#}
{% macro yes_no(expression) -%}
    case when lower(trim({{ expression }})) in ('yes', 'y', 'true', '1') then true when lower(trim({{ expression }})) in ('no', 'n', 'false', '0') then false end
{%- endmacro %}

{#- Only rows of accepted batches (see orchestration/rules.py). -#}
{% macro accepted_batches(column='batch_id') -%}
    {{ column }} in (select batch_id from {{ source('raw', 'load_batches') }} where status = 'accepted')
{%- endmacro %}
