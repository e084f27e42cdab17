{{ config(meta={'dagster': {'ref': {'name': 'returnees_over_time'}}}) }}
-- Rounds where the governorate rows of a mart do not add up to the national figure.
with

returnees as (
    select * from {{ ref('returnees_over_time') }}
),

idps_by_governorate as (
    select * from {{ ref('idps_by_governorate') }}
),

idps_by_district as (
    select * from {{ ref('idps_by_district') }}
),

returnee_check as (
    select
        partition_key,
        'returnees_over_time' as mart,
        sum(returnees) filter (where area_level = 'governorate') as governorate_sum,
        sum(returnees) filter (where area_level = 'national') as national_total
    from returnees
    group by partition_key
),

district_check as (
    select
        governorates.partition_key,
        'idps_by_district' as mart,
        districts.idps as governorate_sum,
        governorates.idps as national_total
    from (
        select partition_key, sum(idps) as idps
        from idps_by_governorate group by partition_key
    ) as governorates
    left join (
        select partition_key, sum(idps) as idps
        from idps_by_district group by partition_key
    ) as districts
        on governorates.partition_key = districts.partition_key
),

final as (
    select * from returnee_check
    where governorate_sum is distinct from national_total
    union all
    select * from district_check
    where governorate_sum is distinct from national_total
)

select * from final
