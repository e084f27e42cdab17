with

source as (
    select * from {{ source('raw', 'round_reviews') }}
),

renamed as (
    select
        partition_key,
        status as review_status,
        reasons as review_reasons,
        cast(figures as varchar) as review_figures,
        decided_by,
        note as decision_note,
        recorded_at as reviewed_at
    from source
)

select * from renamed
