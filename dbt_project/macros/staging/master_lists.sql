{#- The two master lists (IDP, returnee) share their location columns and their
    wide breakdowns, so their staging views share these macros. -#}

{% macro accepted_raw_rows(table_name) -%}
    select * from {{ source('raw', table_name) }}
    where {{ accepted_batches() }}
{%- endmacro %}


{% macro stg_master_list_locations(table_name) %}
with

source as (
    {{ accepted_raw_rows(table_name) }}
),

renamed as (
    select
        batch_id,
        partition_key,
        operation,
        admin0_pcode,
        round_number,
        reporting_month,
        file_date as reporting_date,
        trim(location_id) as location_id,
        trim(place_id) as place_id,
        trim(governorate) as governorate_name,
        trim(district) as district_name,
        trim(location_name) as location_name,
        trim(location_name_ar) as location_name_ar,
        coalesce(
            regexp_full_match(trim(location_name_ar), '\?+'), false
        ) as is_arabic_name_destroyed,
        try_cast(latitude as double) as latitude,
        try_cast(longitude as double) as longitude,
        {{ to_count('households') }} as households,
        {{ to_count('individuals') }} as individuals,
        source_file,
        source_sha256,
        sheet_name,
        source_row_number,
        ingested_at
    from source
)

select * from renamed
{% endmacro %}


{% macro stg_master_list_breakdowns(table_name, prefixes) %}
{%- set pattern = '^(' ~ prefixes | join('|') ~ ')__' -%}
with

source as (
    {{ accepted_raw_rows(table_name) }}
),

unpivoted as (
    -- Wide breakdown columns to long form; a column an era's file lacks is null and dropped.
    unpivot (
        select
            batch_id,
            partition_key,
            round_number,
            location_id,
            source_row_number,
            columns('{{ pattern }}')
        from source
    )
    on columns('{{ pattern }}')
    into name canonical_column value reported_value
),

renamed as (
    select
        batch_id,
        partition_key,
        round_number,
        trim(location_id) as location_id,
        source_row_number,
        canonical_column,
        {{ to_count('reported_value') }} as reported_count
    from unpivoted
)

select * from renamed
{% endmacro %}
