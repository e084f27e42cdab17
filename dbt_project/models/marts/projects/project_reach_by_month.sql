{#- A project's people reached per month: its headline indicator only. Other activities reach
    many of the same people, so adding them up would count people twice. -#}
with

reach as (
    select * from {{ ref('int_cluster_reach_monthly') }}
),

activities as (
    select * from {{ ref('stg_cluster__activities') }}
),

projects as (
    select * from {{ ref('stg_cluster__projects') }}
    where not is_totals_row
),

withheld as (
    select * from {{ ref('int_cluster_projects_withheld') }}
),

headline as (
    select
        reach.workbook_year,
        reach.hrp_code,
        reach.reporting_month,
        any_value(reach.activity) as headline_activity,
        cast(sum(reach.total_monthly) as bigint) as people_reached,
        cast(sum(reach.female_monthly) as bigint) as people_reached_female,
        cast(sum(reach.male_monthly) as bigint) as people_reached_male,
        bool_or(reach.reporting_basis = 'cumulative (detected)') as has_detected_running_totals,
        bool_or(reach.reporting_basis like 'cumulative%') as has_running_totals
    from reach
    inner join activities
        on
            reach.workbook_year = activities.workbook_year
            and reach.hrp_code = activities.hrp_code
            and reach.activity = activities.activity
    where activities.is_headline
    group by reach.workbook_year, reach.hrp_code, reach.reporting_month
),

final as (
    select
        headline.workbook_year as year,
        headline.hrp_code,
        projects.cluster,
        headline.reporting_month,
        headline.headline_activity,
        headline.people_reached,
        headline.people_reached_female,
        headline.people_reached_male,
        -- to date: not for a project some of whose months failed the gate (it would be short)
        case
            when withheld.hrp_code is null
                then cast(sum(headline.people_reached) over (
                        partition by headline.workbook_year, headline.hrp_code
                        order by headline.reporting_month
                        rows between unbounded preceding and current row
                    ) as bigint)
        end as people_reached_to_date,
        projects.target_total as target_beneficiaries,
        round(people_reached_to_date / nullif(projects.target_total, 0), 4)
            as share_of_target_reached_to_date,
        headline.has_running_totals,
        headline.has_detected_running_totals
    from headline
    left join projects
        on
            headline.workbook_year = projects.workbook_year
            and headline.hrp_code = projects.hrp_code
    left join withheld
        on
            headline.workbook_year = withheld.workbook_year
            and headline.hrp_code = withheld.hrp_code
)

select * from final
