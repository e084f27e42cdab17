with

pcodes as (
    select * from {{ ref('ocha_admin_pcodes') }}
),

governorates as (
    select * from {{ ref('governorates') }}
),

final as (
    select
        pcodes.pcode as admin1_pcode,
        pcodes.name as admin1_name,
        pcodes.admin0_pcode,
        governorates.api_pcode as dtm_api_pcode,
        governorates.dtm_name as dtm_governorate_name,
        governorates.dtm_governorate_code,
        pcodes.valid_from
    from pcodes
    inner join governorates on pcodes.pcode = governorates.admin1_pcode
    where pcodes.admin_level = 1
)

select * from final
