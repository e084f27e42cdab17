{#- The share of assessed locations whose informants name each need, per round and governorate.
    A figure backed by fewer informants than the threshold (3) is suppressed, and so is a need
    named by so few: role, gender and place together can identify a mukhtar. -#}
with

reports as (
    select * from {{ ref('int_ki_reports_located') }}
),

needs as (
    select * from {{ ref('int_ki_report_needs_unnested') }}
),

rounds as (
    select * from {{ ref('dim_round') }}
),

admin1 as (
    select * from {{ ref('dim_admin1') }}
),

thresholds as (
    select cast(value as integer) as min_informants
    from {{ ref('analysis_thresholds') }}
    where rule = 'ki_min_informants'
),

choices as (
    select unnest(string_split('{{ var("ki_need_choices") | join(",") }}', ',')) as need
),

assessed as (
    select
        partition_key,
        admin1_pcode,
        count(distinct location_id) as assessed_locations,
        count(distinct informant_key) as informants,
        count(*) as reports
    from reports
    where admin1_pcode is not null
    group by partition_key, admin1_pcode
),

named as (
    select
        partition_key,
        admin1_pcode,
        need,
        count(distinct location_id) as locations_naming_need,
        count(distinct informant_key) as informants_naming_need
    from needs
    where admin1_pcode is not null
    group by partition_key, admin1_pcode, need
),

cells as (
    select
        assessed.*,
        choices.need,
        coalesce(named.locations_naming_need, 0) as locations_naming_need,
        coalesce(named.informants_naming_need, 0) as informants_naming_need
    from assessed
    cross join choices
    left join named
        on
            assessed.partition_key = named.partition_key
            and assessed.admin1_pcode = named.admin1_pcode
            and choices.need = named.need
),

final as (
    select
        cells.partition_key,
        rounds.round_number,
        rounds.reporting_date,
        cells.admin1_pcode,
        admin1.admin1_name,
        cells.need,
        cells.assessed_locations,
        cells.informants,
        cells.reports,
        (
            cells.informants < thresholds.min_informants
            or cells.informants_naming_need between 1 and thresholds.min_informants - 1
        ) as is_suppressed,
        case when not is_suppressed then cells.locations_naming_need end as locations_naming_need,
        case when not is_suppressed then cells.informants_naming_need end as informants_naming_need,
        case
            when not is_suppressed
                then round(cells.locations_naming_need / cells.assessed_locations, 4)
        end as share_of_locations
    from cells
    cross join thresholds
    left join rounds on cells.partition_key = rounds.partition_key
    left join admin1 on cells.admin1_pcode = admin1.admin1_pcode
)

select * from final
