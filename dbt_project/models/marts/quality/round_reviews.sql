with

reviews as (
    select * from {{ ref('stg_raw__round_reviews') }}
),

final as (
    select
        partition_key,
        review_status,
        review_reasons,
        review_figures,
        decided_by,
        decision_note,
        reviewed_at
    from reviews
)

select * from final
