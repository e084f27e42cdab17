{{ config(meta={'dagster': {'ref': {'name': 'int_master_list_breakdowns_categorised'}}}) }}
-- Rows where a breakdown (origin, shelter, period, ...) does not sum to the location's total
-- in the unit of its era: DTM's own rule on every row of a master list.
with

locations as (
    select * from {{ ref('int_master_list_locations_harmonised') }}
    where {{ tested_rounds_condition() }}
),

breakdowns as (
    select * from {{ ref('int_master_list_breakdowns_categorised') }}
    where {{ tested_rounds_condition() }}
),

sums as (
    select
        batch_id,
        source_row_number,
        dimension,
        sum(reported_count) as breakdown_total
    from breakdowns
    group by all
),

final as (
    select
        locations.list_type,
        locations.source_file,
        locations.source_row_number,
        sums.dimension,
        locations.breakdown_unit,
        sums.breakdown_total,
        case locations.breakdown_unit
            when 'households' then locations.households
            else locations.individuals
        end as stated_total
    from sums
    inner join locations
        on
            sums.batch_id = locations.batch_id
            and sums.source_row_number = locations.source_row_number
    where sums.breakdown_total is distinct from stated_total
)

select * from final
