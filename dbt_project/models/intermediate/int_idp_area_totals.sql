-- IDPs per round and area, for both area levels (admin1: governorate, admin2: district):
-- totals, shelter mix and the change against the previous round by reporting date. An area
-- absent from the previous round counts from 0. A share is 0 where its numerator is 0 and
-- NULL only where its denominator is (no shelter breakdown reported).
with

locations as (
    select * from {{ ref('fct_idp_locations') }}
),

shelter as (
    select * from {{ ref('fct_idp_breakdowns') }}
    where dimension = 'shelter'
),

rounds as (
    select * from {{ ref('dim_round') }}
),

location_areas as (
    select
        locations.partition_key,
        areas.area_level,
        areas.area_pcode,
        locations.households,
        locations.individuals
    from locations
    cross join lateral (
        values ('admin1', locations.admin1_pcode), ('admin2', locations.admin2_pcode)
    ) as areas (area_level, area_pcode)
),

shelter_areas as (
    select
        shelter.partition_key,
        areas.area_level,
        areas.area_pcode,
        shelter.unit,
        shelter.shelter_group,
        shelter.reported_count
    from shelter
    cross join lateral (
        values ('admin1', shelter.admin1_pcode), ('admin2', shelter.admin2_pcode)
    ) as areas (area_level, area_pcode)
),

location_totals as (
    select
        partition_key,
        area_level,
        area_pcode,
        cast(count(*) as integer) as idp_locations,
        cast(sum(households) as bigint) as idp_households,
        cast(sum(individuals) as bigint) as idps
    from location_areas
    group by all
),

shelter_totals as (
    select
        partition_key,
        area_level,
        area_pcode,
        any_value(unit) as shelter_unit,
        cast(sum(reported_count) filter (where shelter_group = 'camp') as bigint)
            as in_camps,
        cast(sum(reported_count) filter (where shelter_group = 'critical') as bigint)
            as in_critical_shelters,
        cast(sum(reported_count) filter (where shelter_group = 'private') as bigint)
            as in_private_settings,
        cast(sum(reported_count) filter (
            where shelter_group not in ('camp', 'critical', 'private')
        ) as bigint) as in_other_shelters,
        cast(sum(reported_count) as bigint) as shelter_reported
    from shelter_areas
    group by all
),

current_round as (
    select
        location_totals.partition_key,
        rounds.operation,
        rounds.round_number,
        rounds.reporting_date,
        location_totals.area_level,
        location_totals.area_pcode,
        location_totals.idp_locations,
        location_totals.idp_households,
        location_totals.idps,
        shelter_totals.shelter_unit,
        coalesce(shelter_totals.in_camps, 0) as in_camps,
        coalesce(shelter_totals.in_critical_shelters, 0) as in_critical_shelters,
        coalesce(shelter_totals.in_private_settings, 0) as in_private_settings,
        coalesce(shelter_totals.in_other_shelters, 0) as in_other_shelters,
        cast(round(
            coalesce(shelter_totals.in_camps, 0) / nullif(shelter_totals.shelter_reported, 0), 4
        ) as double) as camp_share,
        cast(round(
            coalesce(shelter_totals.in_critical_shelters, 0)
            / nullif(shelter_totals.shelter_reported, 0),
            4
        ) as double) as critical_shelter_share,
        rounds.previous_idp_partition_key as previous_partition_key
    from location_totals
    inner join rounds on location_totals.partition_key = rounds.partition_key
    left join shelter_totals
        on
            location_totals.partition_key = shelter_totals.partition_key
            and location_totals.area_level = shelter_totals.area_level
            and location_totals.area_pcode = shelter_totals.area_pcode
),

final as (
    select
        current_round.*,
        case
            when current_round.previous_partition_key is not null
                then coalesce(previous_round.idps, 0)
        end as previous_idps,
        current_round.idps - previous_idps as change_idps,
        cast(round(change_idps / nullif(previous_idps, 0), 4) as double) as change_share
    from current_round
    left join current_round as previous_round
        on
            current_round.previous_partition_key = previous_round.partition_key
            and current_round.area_level = previous_round.area_level
            and current_round.area_pcode = previous_round.area_pcode
)

select * from final
