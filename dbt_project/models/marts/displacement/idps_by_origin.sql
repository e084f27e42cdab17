with

origins as (
    select * from {{ ref('fct_idp_breakdowns') }}
    where dimension = 'origin' and {{ incremental_rounds_condition() }}
),

rounds as (
    select * from {{ ref('dim_round') }}
),

governorates as (
    select * from {{ ref('dim_admin1') }}
),

units as (
    select * from {{ ref('units_by_era') }}
    where list_type = 'idp'
),

flows as (
    select
        partition_key,
        any_value(round_number) as round_number,
        admin1_pcode as displacement_admin1_pcode,
        related_admin1_pcode as origin_admin1_pcode,
        any_value(unit) as unit,
        count(distinct location_id) as locations,
        cast(sum(reported_count) as bigint) as reported_count
    from origins
    group by all
),

final as (
    select
        flows.partition_key,
        rounds.round_number,
        rounds.reporting_date,
        flows.origin_admin1_pcode,
        origin.admin1_name as origin_admin1_name,
        flows.displacement_admin1_pcode,
        displacement.admin1_name as displacement_admin1_name,
        flows.origin_admin1_pcode = flows.displacement_admin1_pcode
            as is_within_governorate,
        flows.locations as idp_locations,
        case when flows.unit = 'households' then flows.reported_count end as idp_households,
        -- Individuals where the era gives them: counted in the breakdown, or 6 x households
        -- while DTM derived every individual so; unknown otherwise (never estimated).
        case
            when flows.unit = 'individuals' then flows.reported_count
            when units.individuals_method = '6 x households' then 6 * flows.reported_count
        end as idps,
        case
            when flows.unit = 'individuals' then 'counted'
            when units.individuals_method = '6 x households' then '6 x households'
        end as idps_method,
        flows.unit as breakdown_unit
    from flows
    inner join rounds on flows.partition_key = rounds.partition_key
    left join units
        on
            flows.unit = units.breakdown_unit
            and flows.round_number between units.first_round and units.last_round
    left join governorates as origin on flows.origin_admin1_pcode = origin.admin1_pcode
    left join governorates as displacement
        on flows.displacement_admin1_pcode = displacement.admin1_pcode
)

select * from final
