{#- Gaps between what the cluster sheets state and what their own rows add up to, and reach
    past target: shown, never fixed. -#}
with

projects as (
    select * from {{ ref('stg_cluster__projects') }}
),

reach as (
    select * from {{ ref('stg_cluster__reach') }}
),

reach_monthly as (
    select * from {{ ref('int_cluster_reach_monthly') }}
),

beneficiaries as (
    select * from {{ ref('project_beneficiaries_vs_budget') }}
),

published as (
    select * from {{ ref('published_figures') }}
),

target_split as (
    select
        workbook_year as year,
        hrp_code,
        'target female + male against total' as check_name,
        cast(target_total as double) as stated_value,
        cast(target_female + target_male as double) as computed_value,
        'people' as unit,
        source_file
    from projects
    where not is_totals_row and target_female is not null and target_male is not null
),

stated_budget_total as (
    select
        totals.workbook_year as year,
        cast(null as varchar) as hrp_code,
        'stated budget total against the sum of project budgets' as check_name,
        cast(totals.budget_usd as double) as stated_value,
        cast(sum(project_rows.budget_usd) as double) as computed_value,
        'USD' as unit,
        totals.source_file
    from projects as totals
    inner join projects as project_rows
        on totals.batch_id = project_rows.batch_id and not project_rows.is_totals_row
    where totals.is_totals_row and totals.budget_usd is not null
    group by totals.workbook_year, totals.budget_usd, totals.source_file
),

appeal_total as (
    select
        cast(published.as_of as integer) as year,
        cast(null as varchar) as hrp_code,
        'published appeal total against the sum of project budgets' as check_name,
        published.value as stated_value,
        cast(sum(beneficiaries.budget_usd) as double) as computed_value,
        'USD' as unit,
        published.source as source_file
    from published
    inner join beneficiaries
        on try_cast(published.as_of as integer) = beneficiaries.year
    where published.figure = 'IOM emergency appeal total (stated)'
    group by published.as_of, published.value, published.source
),

stated_reach_total as (
    select
        totals.workbook_year as year,
        cast(null as varchar) as hrp_code,
        'stated reach total against the sum of reach rows (as reported)' as check_name,
        cast(totals.total as double) as stated_value,
        cast(sum(reach_rows.total) as double) as computed_value,
        'as reported' as unit,
        totals.source_file
    from reach as totals
    inner join reach as reach_rows
        on
            totals.source_file = reach_rows.source_file
            and totals.workbook_year = reach_rows.workbook_year
            and not reach_rows.is_totals_row
    where totals.is_totals_row and totals.total is not null
    group by totals.workbook_year, totals.total, totals.source_file
),

reach_split as (
    select
        workbook_year as year,
        hrp_code,
        'reach female + male against total (rows as reported)' as check_name,
        cast(sum(total) as double) as stated_value,
        cast(sum(female + male) as double) as computed_value,
        'people' as unit,
        any_value(source_file) as source_file
    from reach
    where not is_totals_row and female is not null and male is not null
    group by workbook_year, hrp_code
),

above_target as (
    select
        year,
        hrp_code,
        'people reached against target beneficiaries' as check_name,
        cast(target_beneficiaries as double) as stated_value,
        cast(people_reached as double) as computed_value,
        'people' as unit,
        source_file
    from beneficiaries
    where people_reached is not null  -- a project whose reach is not counted is not within target
),

detected as (
    select
        workbook_year as year,
        hrp_code,
        'months reported as running totals without a flag (detected, turned into monthly)'
            as check_name,
        cast(null as double) as stated_value,
        cast(count(*) as double) as computed_value,
        'months' as unit,
        any_value(source_file) as source_file
    from reach_monthly
    where reporting_basis = 'cumulative (detected)'
    group by workbook_year, hrp_code
),

checks as (
    select * from target_split
    union all
    select * from stated_budget_total
    union all
    select * from appeal_total
    union all
    select * from stated_reach_total
    union all
    select * from reach_split
    union all
    select * from above_target
    union all
    select * from detected
),

final as (
    select
        year,
        hrp_code,
        check_name,
        stated_value,
        computed_value,
        computed_value - stated_value as difference,
        unit,
        case
            when check_name like 'months reported as running totals%' then 'detected'
            when check_name like 'people reached against%'
                then case
                        when computed_value > stated_value then 'above target' else 'within target'
                    end
            when computed_value = stated_value then 'matches'
            else 'differs'
        end as status,
        source_file
    from checks
)

select * from final
