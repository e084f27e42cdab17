with

origins as (
    select * from {{ ref('fct_idp_breakdowns') }}
    where dimension = 'origin'
),

rounds as (
    select * from {{ ref('dim_round') }}
),

governorates as (
    select * from {{ ref('dim_admin1') }}
),

flows as (
    select
        partition_key,
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
        flows.locations,
        flows.reported_count,
        flows.unit
    from flows
    inner join rounds on flows.partition_key = rounds.partition_key
    left join governorates as origin on flows.origin_admin1_pcode = origin.admin1_pcode
    left join governorates as displacement
        on flows.displacement_admin1_pcode = displacement.admin1_pcode
)

select * from final
