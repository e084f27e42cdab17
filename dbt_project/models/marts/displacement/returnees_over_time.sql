with

locations as (
    select * from {{ ref('fct_returnee_locations') }}
),

rounds as (
    select * from {{ ref('dim_round') }}
),

governorates as (
    select * from {{ ref('dim_admin1') }}
),

by_governorate as (
    select
        partition_key,
        'governorate' as area_level,
        admin0_pcode,
        admin1_pcode,
        cast(count(*) as integer) as returnee_locations,
        cast(sum(households) as bigint) as returnee_households,
        cast(sum(individuals) as bigint) as returnees
    from locations
    group by all
),

national as (
    select
        partition_key,
        'national' as area_level,
        admin0_pcode,
        cast(null as varchar) as admin1_pcode,
        cast(count(*) as integer) as returnee_locations,
        cast(sum(households) as bigint) as returnee_households,
        cast(sum(individuals) as bigint) as returnees
    from locations
    group by all
),

areas as (
    select * from by_governorate
    union all
    select * from national
),

current_round as (
    select
        areas.partition_key,
        rounds.operation,
        rounds.round_number,
        rounds.reporting_date,
        areas.area_level,
        areas.admin0_pcode,
        areas.admin1_pcode,
        governorates.admin1_name,
        areas.returnee_locations,
        areas.returnee_households,
        areas.returnees,
        rounds.previous_returnee_partition_key
    from areas
    inner join rounds on areas.partition_key = rounds.partition_key
    left join governorates on areas.admin1_pcode = governorates.admin1_pcode
),

final as (
    -- Returnees are cumulative: new returns are the growth since the previous round.
    select
        current_round.* exclude (previous_returnee_partition_key),  -- noqa: RF02
        current_round.previous_returnee_partition_key as previous_partition_key,
        case
            when current_round.previous_returnee_partition_key is not null
                then coalesce(previous_round.returnees, 0)
        end as previous_returnees,
        current_round.returnees - previous_returnees as new_returns
    from current_round
    left join current_round as previous_round
        on current_round.previous_returnee_partition_key = previous_round.partition_key
            and current_round.area_level = previous_round.area_level
            and current_round.admin1_pcode is not distinct from previous_round.admin1_pcode
)

select * from final
