with

breakdowns as (
    select * from {{ ref('stg_dtm__master_list_breakdowns') }}
),

locations as (
    select * from {{ ref('int_master_list_locations_harmonised') }}
),

categories as (
    select * from {{ ref('breakdown_categories') }}
),

final as (
    select
        breakdowns.list_type,
        breakdowns.batch_id,
        breakdowns.partition_key,
        breakdowns.round_number,
        breakdowns.location_id,
        breakdowns.source_row_number,
        locations.admin1_pcode,
        locations.admin2_pcode,
        categories.dimension,
        categories.category,
        categories.category_label,
        categories.admin1_pcode as related_admin1_pcode,
        categories.shelter_group,
        categories.period_start,
        breakdowns.reported_count,
        locations.breakdown_unit as unit
    from breakdowns
    inner join locations
        on
            breakdowns.batch_id = locations.batch_id
            and breakdowns.source_row_number = locations.source_row_number
    inner join categories
        on
            breakdowns.list_type = categories.list_type
            and breakdowns.canonical_column = categories.canonical_column
)

select * from final
