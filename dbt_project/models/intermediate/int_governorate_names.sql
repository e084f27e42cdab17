with

governorates as (
    select * from {{ ref('governorates') }}
),

spellings as (
    unpivot governorates
    on admin1_name, api_name, dtm_name, dtm_header_name, dtm_2024_name
    into name spelling_source value governorate_name
),

final as (
    select distinct
        {{ name_key('governorate_name') }} as name_key,
        admin1_pcode
    from spellings
)

select * from final
