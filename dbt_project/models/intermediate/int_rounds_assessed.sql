-- One row per round partition that ever received a batch: how its batches stand, its latest
-- sign-off state, and whether a publication may carry it. Held back: a round awaiting sign-off
-- or rejected, and a round whose newest file failed the gate (a quarantined batch loaded after
-- its last accepted one: its figures are in doubt until a good file arrives).
with

batches as (
    select * from {{ ref('stg_raw__load_batches') }}
),

reviews as (
    select * from {{ ref('stg_raw__round_reviews') }}
),

latest_reviews as (
    select * from reviews
    qualify row_number() over (partition by partition_key order by reviewed_at desc) = 1
),

summarised as (
    select
        partition_key,
        any_value(operation) as operation,
        any_value(admin0_pcode) as admin0_pcode,
        any_value(round_number) as round_number,
        any_value(reporting_month) as reporting_month,
        min(reporting_date) as reporting_date,
        cast(count(*) filter (where status = 'accepted') as integer) as batches_accepted,
        cast(count(*) filter (where status = 'quarantined') as integer) as batches_quarantined,
        cast(count(*) filter (where status = 'superseded') as integer) as batches_superseded,
        cast(count(*) filter (where status = 'pending') as integer) as batches_pending,
        coalesce(bool_or(status = 'accepted' and list_type in ('idp', 'returnee')), false)
            as has_accepted_master_list,
        max(status_changed_at) filter (where status = 'accepted') as last_accepted_at,
        max(loaded_at) filter (where status = 'quarantined') as last_quarantined_loaded_at
    from batches
    group by partition_key
),

assessed as (
    select
        summarised.* exclude (last_accepted_at, last_quarantined_loaded_at),  -- noqa: RF02
        latest_reviews.review_status,
        latest_reviews.review_reasons,
        latest_reviews.review_figures,
        latest_reviews.decided_by,
        latest_reviews.decision_note,
        latest_reviews.reviewed_at,
        coalesce(
            summarised.last_quarantined_loaded_at > summarised.last_accepted_at, false
        ) as is_blocked_by_quarantine,
        coalesce(
            latest_reviews.review_status in ('awaiting_sign_off', 'rejected'), false
        ) as is_held_for_review
    from summarised
    left join latest_reviews on summarised.partition_key = latest_reviews.partition_key
),

final as (
    select
        *,
        has_accepted_master_list
        and not is_blocked_by_quarantine
        and not is_held_for_review as is_publishable
    from assessed
)

select * from final
