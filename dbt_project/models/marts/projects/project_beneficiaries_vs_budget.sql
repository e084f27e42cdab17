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

withheld as (
    select * from {{ ref('int_cluster_projects_withheld') }}
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

-- People reached is counted by the headline indicator, from sheets that all passed the gate;
-- otherwise it is not known, which is not zero.
counted as (
    select
        projects.*,
        headline.headline_activity,
        headline.headline_unit,
        headline.headline_target,
        reached.people_reached,
        reached.people_reached_female,
        reached.people_reached_male,
        reached.reached_through_month,
        reached.months_reported,
        case
            when withheld.hrp_code is not null
                then
                    'withheld: its workbook''s '
                    || withheld.quarantined_sheets
                    || ' failed the gate'
            when headline.headline_activity is null then 'not counted: no headline indicator'
            else 'counted'
        end as people_reached_status
    from projects
    left join headline
        on
            projects.workbook_year = headline.workbook_year
            and projects.hrp_code = headline.hrp_code
    left join reached
        on
            projects.workbook_year = reached.year
            and projects.hrp_code = reached.hrp_code
    left join withheld
        on
            projects.workbook_year = withheld.workbook_year
            and projects.hrp_code = withheld.hrp_code
),

final as (
    select
        workbook_year as year,
        hrp_code,
        cluster,
        project_title,
        budget_usd,
        target_total as target_beneficiaries,
        target_female,
        target_male,
        target_idps,
        target_returnees,
        target_host_community,
        target_newly_displaced,
        headline_activity,
        headline_unit,
        headline_target,
        people_reached_status,
        case when people_reached_status = 'counted' then coalesce(people_reached, 0) end
            as people_reached,
        case when people_reached_status = 'counted' then people_reached_female end
            as people_reached_female,
        case when people_reached_status = 'counted' then people_reached_male end
            as people_reached_male,
        case when people_reached_status = 'counted' then reached_through_month end
            as reached_through_month,
        case when people_reached_status = 'counted' then coalesce(months_reported, 0) end
            as months_reported,
        case
            when people_reached_status = 'counted'
                then round(coalesce(people_reached, 0) / nullif(target_total, 0), 4)
        end as share_of_target_reached,
        round(budget_usd / nullif(target_total, 0), 2) as budget_per_targeted_person_usd,
        case
            when people_reached_status = 'counted'
                then round(budget_usd / nullif(people_reached, 0), 2)
        end as budget_per_person_reached_usd,
        iom_identified_needs_usd,
        iom_identified_needs_people,
        iom_identified_needs_usd - budget_usd as needs_gap_to_budget_usd,
        funding_received_usd,
        budget_usd - funding_received_usd as funding_gap_usd,
        source_file
    from counted
)

select * from final
