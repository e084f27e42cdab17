with

reviews as (
    select * from {{ ref('stg_raw__round_reviews') }}
),

final as (
    select * from reviews
)

select * from final
