{#- Only rows of accepted batches: a superseded or quarantined file never reaches staging,
    whatever a later full refresh does. Every staging view of raw filters with this. -#}
{% macro accepted_batches() -%}
    batch_id in (
        select batch_id from {{ source('raw', 'load_batches') }}
        where status = 'accepted'
    )
{%- endmacro %}
