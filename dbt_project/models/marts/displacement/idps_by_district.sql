-- IDPs per round and COD district. DTM districts without a COD district of their own are
-- counted where DTM publishes them (dtm_assignment in the crosswalk); the DTM districts behind
-- each row, and how each was mapped, are named so a map joined on p-codes can say so.
with

area_totals as (
    select
        * exclude (area_level, area_pcode),
        area_pcode as admin2_pcode
    from {{ ref('int_idp_area_totals') }}
    where area_level = 'admin2'
),

locations as (
    select * from {{ ref('fct_idp_locations') }}
),

districts as (
    select * from {{ ref('dim_admin2') }}
),

governorates as (
    select * from {{ ref('dim_admin1') }}
),

mapping as (
    select
        partition_key,
        admin2_pcode,
        string_agg(distinct district_match_type, ', ' order by district_match_type)
            as district_mapping,
        string_agg(distinct dtm_district_name, ', ' order by dtm_district_name)
            as dtm_districts,
        cast(sum(individuals) filter (where district_match_type = 'dtm_assignment') as bigint)
            as idps_by_dtm_assignment
    from locations
    group by all
),

final as (
    select
        area_totals.*,
        districts.admin2_name,
        districts.admin1_pcode,
        governorates.admin1_name,
        districts.is_placeholder as is_placeholder_district,
        mapping.district_mapping,
        mapping.dtm_districts,
        coalesce(mapping.idps_by_dtm_assignment, 0) as idps_by_dtm_assignment
    from area_totals
    left join districts on area_totals.admin2_pcode = districts.admin2_pcode
    left join governorates on districts.admin1_pcode = governorates.admin1_pcode
    left join mapping
        on
            area_totals.partition_key = mapping.partition_key
            and area_totals.admin2_pcode = mapping.admin2_pcode
)

select * from final
