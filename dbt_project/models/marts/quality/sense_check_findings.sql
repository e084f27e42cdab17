with

findings as (
    select * from {{ ref('stg_raw__sense_check_findings') }}
),

final as (
    select * from findings
)

select * from final
