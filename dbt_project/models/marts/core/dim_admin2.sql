with

pcodes as (
    select * from {{ ref('ocha_admin_pcodes') }}
),

districts as (
    select
        pcode as admin2_pcode,
        name as admin2_name,
        parent_pcode as admin1_pcode,
        false as is_placeholder,
        -- as DTM's API writes p-codes: IQG01Q01 -> IRQ-G01Q01
        'IRQ-' || substr(pcode, 3) as dtm_api_pcode
    from pcodes
    where admin_level = 2
),

placeholders as (
    -- Where a DTM district has no COD district, its locations land here (as HDX HAPI does).
    select
        pcode || '-XXX' as admin2_pcode,
        'Unmatched district of ' || name as admin2_name,
        pcode as admin1_pcode,
        true as is_placeholder,
        'IRQ-' || substr(pcode, 3) || '-XXX' as dtm_api_pcode
    from pcodes
    where admin_level = 1
),

final as (
    select * from districts
    union all
    select * from placeholders
)

select * from final
