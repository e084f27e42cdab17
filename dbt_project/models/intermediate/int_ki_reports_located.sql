with

reports as (
    select * from {{ ref('stg_kobo__ki_reports') }}
),

governorate_names as (
    select * from {{ ref('int_governorate_names') }}
),

governorates as (
    select * from {{ ref('governorates') }}
),

-- The governorate as the form spells it, else the first two digits of the Location ID
-- (DTM's governorate code), as for the master lists.
located as (
    select
        reports.*,
        coalesce(governorate_names.admin1_pcode, by_code.admin1_pcode) as admin1_pcode
    from reports
    left join governorate_names
        on {{ name_key('reports.governorate_name') }} = governorate_names.name_key
    left join governorates as by_code
        on
            governorate_names.admin1_pcode is null
            and left(reports.location_id, 2) = by_code.dtm_governorate_code
),

final as (
    select * from located
)

select * from final
