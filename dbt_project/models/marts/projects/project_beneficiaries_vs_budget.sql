with

projects as (
    select * from {{ ref('stg_cluster__projects') }}
    where not is_totals_row
),

activities as (
    select * from {{ ref('stg_cluster__activities') }}
),

monthly as (
    select * from {{ ref('project_reach_by_month') }}
),

headline as (
    select
        workbook_year,
        hrp_code,
        activity as headline_activity,
        unit as headline_unit,
        target as headline_target
    from activities
    where is_headline
),

reached as (
    select
        year,
        hrp_code,
        cast(sum(people_reached) as bigint) as people_reached,
        cast(sum(people_reached_female) as bigint) as people_reached_female,
        cast(sum(people_reached_male) as bigint) as people_reached_male,
        max(reporting_month) as reached_through_month,
        count(*) as months_reported
    from monthly
    group by year, hrp_code
),

final as (
    select
        projects.workbook_year as year,
        projects.hrp_code,
        projects.cluster,
        projects.project_title,
        projects.budget_usd,
        projects.target_total as target_beneficiaries,
        projects.target_female,
        projects.target_male,
        projects.target_idps,
        projects.target_returnees,
        projects.target_host_community,
        projects.target_newly_displaced,
        headline.headline_activity,
        headline.headline_unit,
        headline.headline_target,
        coalesce(reached.people_reached, 0) as people_reached,
        reached.people_reached_female,
        reached.people_reached_male,
        reached.reached_through_month,
        coalesce(reached.months_reported, 0) as months_reported,
        round(coalesce(reached.people_reached, 0) / nullif(projects.target_total, 0), 4)
            as share_of_target_reached,
        round(projects.budget_usd / nullif(projects.target_total, 0), 2)
            as budget_per_targeted_person_usd,
        round(projects.budget_usd / nullif(reached.people_reached, 0), 2)
            as budget_per_person_reached_usd,
        projects.iom_identified_needs_usd,
        projects.iom_identified_needs_people,
        projects.iom_identified_needs_usd - projects.budget_usd as needs_gap_to_budget_usd,
        projects.funding_received_usd,
        projects.budget_usd - projects.funding_received_usd as funding_gap_usd,
        projects.source_file
    from projects
    left join headline
        on
            projects.workbook_year = headline.workbook_year
            and projects.hrp_code = headline.hrp_code
    left join reached
        on
            projects.workbook_year = reached.year
            and projects.hrp_code = reached.hrp_code
)

select * from final
