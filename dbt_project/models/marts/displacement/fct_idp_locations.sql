with

locations as (
    select * from {{ ref('int_master_list_locations_harmonised') }}
    where list_type = 'idp' and {{ incremental_rounds_condition() }}
),

final as (
    select {{ location_fact_columns() }}
    from locations
)

select * from final
