with

area_totals as (
    select
        * exclude (area_level, area_pcode),
        area_pcode as admin2_pcode
    from {{ ref('int_idp_area_totals') }}
    where area_level = 'admin2'
),

districts as (
    select * from {{ ref('dim_admin2') }}
),

governorates as (
    select * from {{ ref('dim_admin1') }}
),

final as (
    select
        area_totals.*,
        districts.admin2_name,
        districts.admin1_pcode,
        governorates.admin1_name,
        districts.is_placeholder as is_placeholder_district
    from area_totals
    left join districts on area_totals.admin2_pcode = districts.admin2_pcode
    left join governorates on districts.admin1_pcode = governorates.admin1_pcode
)

select * from final
