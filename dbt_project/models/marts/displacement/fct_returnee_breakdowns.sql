with

breakdowns as (
    select * from {{ ref('int_master_list_breakdowns_categorised') }}
    where list_type = 'returnee' and {{ incremental_rounds_condition() }}
),

final as (
    select {{ breakdown_fact_columns() }}
    from breakdowns
    -- Zero cells carry no information and are most of the wide file: kept in raw only.
    where reported_count is distinct from 0
)

select * from final
