{#- IDPs per round and area (admin1 or admin2): totals, shelter mix and the change against the
    previous round by reporting date. An area absent from the previous round counts from 0. -#}
{% macro idps_by_area(area) %}
{%- set key = area ~ '_pcode' -%}
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

areas as (
    select * from {{ ref('dim_' ~ area) }}
),

{% if area == 'admin2' -%}
governorates as (
    select * from {{ ref('dim_admin1') }}
),

{% endif -%}
location_totals as (
    select
        partition_key,
        {{ key }},
        cast(count(*) as integer) as locations,
        cast(sum(households) as bigint) as households,
        cast(sum(individuals) as bigint) as individuals
    from locations
    group by all
),

shelter_totals as (
    select
        partition_key,
        {{ key }},
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
    from shelter
    group by all
),

current_round as (
    select
        location_totals.partition_key,
        rounds.operation,
        rounds.round_number,
        rounds.reporting_date,
        location_totals.{{ key }},
        areas.{{ area }}_name,
        {% if area == 'admin2' -%}
        areas.admin1_pcode,
        governorates.admin1_name,
        areas.is_placeholder as is_placeholder_district,
        {% endif -%}
        location_totals.locations,
        location_totals.households,
        location_totals.individuals,
        shelter_totals.shelter_unit,
        coalesce(shelter_totals.in_camps, 0) as in_camps,
        coalesce(shelter_totals.in_critical_shelters, 0) as in_critical_shelters,
        coalesce(shelter_totals.in_private_settings, 0) as in_private_settings,
        coalesce(shelter_totals.in_other_shelters, 0) as in_other_shelters,
        round(shelter_totals.in_camps / nullif(shelter_totals.shelter_reported, 0), 4)::double
            as camp_share,
        round(
            shelter_totals.in_critical_shelters / nullif(shelter_totals.shelter_reported, 0), 4
        )::double as critical_shelter_share,
        rounds.previous_idp_partition_key
    from location_totals
    inner join rounds on location_totals.partition_key = rounds.partition_key
    left join shelter_totals
        on location_totals.partition_key = shelter_totals.partition_key
        and location_totals.{{ key }} = shelter_totals.{{ key }}
    left join areas on location_totals.{{ key }} = areas.{{ key }}
    {% if area == 'admin2' -%}
    left join governorates on areas.admin1_pcode = governorates.admin1_pcode
    {% endif %}
),

final as (
    select
        current_round.* exclude (previous_idp_partition_key),
        current_round.previous_idp_partition_key as previous_partition_key,
        case
            when current_round.previous_idp_partition_key is not null
                then coalesce(previous_round.individuals, 0)
        end as previous_individuals,
        current_round.individuals - previous_individuals as change_individuals,
        round(100.0 * change_individuals / nullif(previous_individuals, 0), 2)::double as change_pct
    from current_round
    left join current_round as previous_round
        on current_round.previous_idp_partition_key = previous_round.partition_key
        and current_round.{{ key }} = previous_round.{{ key }}
)

select * from final
{% endmacro %}
