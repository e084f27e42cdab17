with

published as (
    select * from {{ ref('published_figures') }}
),

measures as (
    select * from {{ ref('published_figure_measures') }}
),

national as (
    select * from {{ ref('national_figures_by_round') }}
),

projects as (
    select * from {{ ref('project_beneficiaries_vs_budget') }}
),

-- Yearly measures (no DTM round): the sum of a year's HRP project budgets.
yearly as (
    select
        cast(year as varchar) as as_of,
        'sum_of_project_budgets_usd' as measure,
        cast(sum(budget_usd) as double) as warehouse_value
    from projects
    group by year
),

national_long as (
    unpivot (
        select
            partition_key,
            round_number,
            reporting_date,
            cast(idps as double) as idps,
            cast(returnees as double) as returnees,
            camp_share,
            critical_shelter_share
        from national
    )
    on idps, returnees, camp_share, critical_shelter_share
    into name measure value warehouse_value
),

matched as (
    select
        published.figure,
        published.scope,
        published.as_of,
        published.dtm_round,
        -- IOM publishes shares as percents; the marts hold every share as a fraction (0-1).
        case
            when published.unit like 'percent%' then published.value / 100
            else published.value
        end as published_value,
        case
            when published.unit like 'percent%'
                then replace(published.unit, 'percent', 'share')
                    || ' (fraction; published as a percent)'
            else published.unit
        end as unit,
        published.source,
        measures.measure,
        national_long.partition_key,
        national_long.reporting_date,
        coalesce(national_long.warehouse_value, yearly.warehouse_value) as warehouse_value
    from published
    left join measures
        on published.figure = measures.figure
            and published.scope = measures.scope
    left join national_long
        on measures.measure = national_long.measure
            and published.dtm_round = national_long.round_number
    left join yearly
        on
            measures.measure = yearly.measure
            and published.as_of = yearly.as_of
    -- Round numbers can repeat (Round 48 twice): take the entry nearest the published date.
    qualify row_number() over (
            partition by published.figure, published.scope, published.as_of
            order by abs(date_diff(
                'day', national_long.reporting_date,
                try_cast(published.as_of as date)
            )) nulls last
        ) = 1
),

final as (
    select
        figure,
        scope,
        as_of,
        dtm_round,
        partition_key,
        reporting_date as warehouse_reporting_date,
        unit,
        published_value,
        warehouse_value,
        warehouse_value - published_value as difference,
        case
            when measure is null then 'not comparable: the warehouse holds no such measure'
            when
                warehouse_value is null and dtm_round is null
                then 'not comparable: no DTM round given'
            when warehouse_value is null then 'not comparable: that round is not in the warehouse'
            when unit like 'share%' and round(warehouse_value, 2) = round(published_value, 2)
                then 'matches to the published precision'
            when warehouse_value = published_value then 'matches'
            else 'differs'
        end as status,
        source
    from matched
)

select * from final
