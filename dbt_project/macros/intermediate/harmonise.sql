{#- Attach OCHA p-codes and the era's units to a master list's locations.

    The governorate is matched by name (any spelling in the governorates seed) and, where the
    name matches nothing, by the first two digits of DTM's Location ID. A district that
    matches nothing lands on its governorate's placeholder `<admin1 pcode>-XXX`: never dropped. -#}
{% macro harmonise_locations(list_type) %}
with

locations as (
    select * from {{ ref('stg_dtm__' ~ list_type ~ '_locations') }}
),

governorate_names as (
    select * from {{ ref('int_governorate_names') }}
),

governorates as (
    select * from {{ ref('governorates') }}
),

districts as (
    select * from {{ ref('dtm_district_crosswalk') }}
),

units as (
    select * from {{ ref('units_by_era') }}
    where list_type = '{{ list_type }}'
),

harmonised as (
    select
        locations.*,
        coalesce(governorate_names.admin1_pcode, governorates.admin1_pcode) as admin1_pcode,
        case
            when governorate_names.admin1_pcode is not null then 'name'
            when governorates.admin1_pcode is not null then 'location_id'
            else 'unmatched'
        end as governorate_match,
        coalesce(
            districts.admin2_pcode,
            coalesce(governorate_names.admin1_pcode, governorates.admin1_pcode) || '-XXX'
        ) as admin2_pcode,
        coalesce(districts.match_type, 'unmatched') as district_match_type,
        units.breakdown_unit,
        units.individuals_method
    from locations
    left join governorate_names
        on {{ name_key('locations.governorate_name') }} = governorate_names.name_key
    left join governorates
        on governorate_names.admin1_pcode is null
        and left(locations.location_id, 2) = governorates.dtm_governorate_code
    left join districts
        on districts.admin1_pcode
        = coalesce(governorate_names.admin1_pcode, governorates.admin1_pcode)
        and {{ name_key('districts.dtm_district') }} = {{ name_key('locations.district_name') }}
    left join units
        on locations.round_number between units.first_round and units.last_round
)

select * from harmonised
{% endmacro %}


{#- Breakdown cells with their dimension, category and unit. -#}
{% macro categorise_breakdowns(list_type) %}
with

breakdowns as (
    select * from {{ ref('stg_dtm__' ~ list_type ~ '_breakdowns') }}
),

locations as (
    select * from {{ ref('int_' ~ list_type ~ '_locations_harmonised') }}
),

categories as (
    select * from {{ ref('breakdown_categories') }}
    where list_type = '{{ list_type }}'
),

categorised as (
    select
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
        on breakdowns.batch_id = locations.batch_id
        and breakdowns.source_row_number = locations.source_row_number
    inner join categories
        on breakdowns.canonical_column = categories.canonical_column
)

select * from categorised
{% endmacro %}
