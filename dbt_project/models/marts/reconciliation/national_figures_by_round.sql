with

rounds as (
    select * from {{ ref('dim_round') }}
),

idps as (
    select * from {{ ref('idps_by_governorate') }}
),

returnees as (
    select * from {{ ref('returnees_over_time') }}
    where area_level = 'national'
),

idp_totals as (
    select
        partition_key,
        cast(sum(idp_locations) as bigint) as idp_locations,
        cast(sum(idp_households) as bigint) as idp_households,
        cast(sum(idps) as bigint) as idps,
        -- shares as fractions (0-1), like every share of the marts
        cast(round(sum(in_camps) / nullif(sum(
            in_camps + in_critical_shelters
            + in_private_settings + in_other_shelters
        ), 0), 4) as double) as camp_share,
        cast(round(sum(in_critical_shelters) / nullif(sum(
            in_camps + in_critical_shelters
            + in_private_settings + in_other_shelters
        ), 0), 4) as double) as critical_shelter_share
    from idps
    group by partition_key
),

final as (
    select
        rounds.partition_key,
        rounds.operation,
        rounds.admin0_pcode,
        rounds.round_number,
        rounds.reporting_date,
        idp_totals.idp_locations,
        idp_totals.idp_households,
        idp_totals.idps,
        idp_totals.camp_share,
        idp_totals.critical_shelter_share,
        returnees.returnee_locations,
        returnees.returnee_households,
        returnees.returnees
    from rounds
    left join idp_totals on rounds.partition_key = idp_totals.partition_key
    left join returnees on rounds.partition_key = returnees.partition_key
)

select * from final
