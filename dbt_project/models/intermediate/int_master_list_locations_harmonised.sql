-- Master-list locations with OCHA p-codes and their era's units. The governorate is matched by
-- name (any spelling in the governorates seed) and, where the name matches nothing, by the
-- first two digits of DTM's Location ID. A district that matches nothing lands on its
-- governorate's placeholder `<admin1 pcode>-XXX`: never dropped.
with

locations as (
    select * from {{ ref('stg_dtm__master_list_locations') }}
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
),

matched as (
    select
        locations.*,
        coalesce(governorate_names.admin1_pcode, governorates.admin1_pcode) as admin1_pcode,
        case
            when governorate_names.admin1_pcode is not null then 'name'
            when governorates.admin1_pcode is not null then 'location_id'
            else 'unmatched'
        end as governorate_match
    from locations
    left join governorate_names
        on {{ name_key('locations.governorate_name') }} = governorate_names.name_key
    left join governorates
        on
            governorate_names.admin1_pcode is null
            and left(locations.location_id, 2) = governorates.dtm_governorate_code
),

final as (
    select
        matched.*,
        coalesce(districts.admin2_pcode, matched.admin1_pcode || '-XXX') as admin2_pcode,
        coalesce(districts.match_type, 'unmatched') as district_match_type,
        units.breakdown_unit,
        units.individuals_method
    from matched
    left join districts
        on
            matched.admin1_pcode = districts.admin1_pcode
            and {{ name_key('districts.dtm_district') }} = {{ name_key('matched.district_name') }}
    left join units
        on
            matched.list_type = units.list_type
            and matched.round_number between units.first_round and units.last_round
)

select * from final
