with

rejections as (
    select * from {{ ref('stg_raw__file_rejections') }}
),

final as (
    select * from rejections
)

select * from final
