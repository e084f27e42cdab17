with

source as (
    select * from {{ ref('base_dtm__master_list_rows') }}
),

renamed as (
    select
        list_type,
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
