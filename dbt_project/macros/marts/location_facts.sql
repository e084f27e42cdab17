{#- The columns of the location-level facts (fct_idp_locations, fct_returnee_locations) and
    breakdown facts (fct_idp_breakdowns, fct_returnee_breakdowns): each pair holds the same
    columns for its list. -#}

{% macro location_fact_columns() %}
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
{%- endmacro %}

{% macro breakdown_fact_columns() %}
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
{%- endmacro %}
