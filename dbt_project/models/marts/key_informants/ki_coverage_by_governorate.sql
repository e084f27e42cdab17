{#- How much of a round's master lists the key informants covered, per governorate. -#}
with

reports as (
    select * from {{ ref('int_ki_reports_located') }}
),

idp_locations as (
    select * from {{ ref('fct_idp_locations') }}
),

returnee_locations as (
    select * from {{ ref('fct_returnee_locations') }}
),

rounds as (
    select * from {{ ref('dim_round') }}
),

admin1 as (
    select * from {{ ref('dim_admin1') }}
),

listed as (
    select
        partition_key,
        admin1_pcode,
        location_id
    from idp_locations
    union
    select
        partition_key,
        admin1_pcode,
        location_id
    from returnee_locations
),

ki_rounds as (
    select distinct partition_key from reports
),

assessed as (
    select distinct
        partition_key,
        admin1_pcode,
        location_id
    from reports
    where admin1_pcode is not null
),

listed_counts as (
    select
        listed.partition_key,
        listed.admin1_pcode,
        count(*) as master_list_locations,
        count(assessed.location_id) as assessed_listed_locations
    from listed
    inner join ki_rounds on listed.partition_key = ki_rounds.partition_key
    left join assessed
        on
            listed.partition_key = assessed.partition_key
            and listed.admin1_pcode = assessed.admin1_pcode
            and listed.location_id = assessed.location_id
    group by listed.partition_key, listed.admin1_pcode
),

report_counts as (
    select
        reports.partition_key,
        reports.admin1_pcode,
        count(*) as reports,
        count(distinct reports.informant_key) as informants,
        count(distinct reports.location_id) filter (where listed.location_id is null)
            as assessed_locations_not_on_master_list
    from reports
    left join listed
        on
            reports.partition_key = listed.partition_key
            and reports.location_id = listed.location_id
    where reports.admin1_pcode is not null
    group by reports.partition_key, reports.admin1_pcode
),

final as (
    select
        coalesce(listed_counts.partition_key, report_counts.partition_key) as partition_key,
        rounds.round_number,
        rounds.reporting_date,
        coalesce(listed_counts.admin1_pcode, report_counts.admin1_pcode) as admin1_pcode,
        admin1.admin1_name,
        coalesce(listed_counts.master_list_locations, 0) as master_list_locations,
        coalesce(listed_counts.assessed_listed_locations, 0) as assessed_listed_locations,
        round(
            coalesce(listed_counts.assessed_listed_locations, 0)
            / nullif(listed_counts.master_list_locations, 0), 4
        ) as coverage_share,
        coalesce(report_counts.assessed_locations_not_on_master_list, 0)
            as assessed_locations_not_on_master_list,
        coalesce(report_counts.reports, 0) as reports,
        coalesce(report_counts.informants, 0) as informants
    from listed_counts
    full outer join report_counts
        on
            listed_counts.partition_key = report_counts.partition_key
            and listed_counts.admin1_pcode = report_counts.admin1_pcode
    left join rounds
        on coalesce(listed_counts.partition_key, report_counts.partition_key) = rounds.partition_key
    left join admin1
        on coalesce(listed_counts.admin1_pcode, report_counts.admin1_pcode) = admin1.admin1_pcode
)

select * from final
