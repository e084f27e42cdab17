{#- The location-level fact of a master list, rebuilt only for the round partitions of the
    Dagster run (delete+insert by partition), so a new round does not rebuild history. -#}
{% macro location_fact(list_type) %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='partition_key',
    on_schema_change='fail',
) }}

with

locations as (
    select * from {{ ref('int_' ~ list_type ~ '_locations_harmonised') }}
    {{ round_partition_filter() }}
),

final as (
    select
        partition_key,
        operation,
        admin0_pcode,
        round_number,
        reporting_date,
        location_id,
        place_id,
        admin1_pcode,
        admin2_pcode,
        governorate_name as dtm_governorate_name,
        district_name as dtm_district_name,
        governorate_match,
        district_match_type,
        location_name,
        location_name_ar,
        is_arabic_name_destroyed,
        latitude,
        longitude,
        households,
        individuals,
        individuals_method,
        breakdown_unit,
        batch_id,
        source_file,
        source_row_number
    from locations
)

select * from final
{% endmacro %}


{% macro breakdown_fact(list_type) %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='partition_key',
    on_schema_change='fail',
) }}

with

breakdowns as (
    select * from {{ ref('int_' ~ list_type ~ '_breakdowns_categorised') }}
    {{ round_partition_filter() }}
),

final as (
    select
        partition_key,
        round_number,
        location_id,
        admin1_pcode,
        admin2_pcode,
        dimension,
        category,
        category_label,
        related_admin1_pcode,
        shelter_group,
        period_start,
        reported_count,
        unit,
        batch_id,
        source_row_number
    from breakdowns
    -- Zero cells carry no information and are most of the wide file: kept in raw only.
    where reported_count is distinct from 0
)

select * from final
{% endmacro %}
