with

area_totals as (
    select
        * exclude (area_level, area_pcode),
        area_pcode as admin1_pcode
    from {{ ref('int_idp_area_totals') }}
    where area_level = 'admin1'
),

governorates as (
    select * from {{ ref('dim_admin1') }}
),

final as (
    select
        area_totals.*,
        governorates.admin1_name
    from area_totals
    left join governorates on area_totals.admin1_pcode = governorates.admin1_pcode
)

select * from final
