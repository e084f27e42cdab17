-- One row per round partition that ever received a batch: how its batches stand, its latest
-- sign-off state, and whether a publication may carry it. Held back: a round awaiting sign-off
-- or rejected, a round whose newest file failed the gate (a quarantined batch loaded after its
-- last accepted one: its figures are in doubt until a good file arrives), and a round without
-- an accepted IDP list or with a master list that arrived (loaded or refused) and has no
-- accepted batch: published, it would show no IDPs or no returnees where IOM counted some.
with

batches as (
    select * from {{ ref('stg_raw__load_batches') }}
),

rejections as (
    select * from {{ ref('stg_raw__file_rejections') }}
),

master_lists_arrived as (
    select
        partition_key,
        list_type,
        status = 'accepted' as is_accepted
    from batches
    where list_type in ('idp', 'returnee')
    union all
    select
        partition_key,
        list_type,
        false as is_accepted
    from rejections
    where list_type in ('idp', 'returnee') and partition_key is not null
),

master_lists as (
    select
        partition_key,
        list_type,
        bool_or(is_accepted) as is_accepted
    from master_lists_arrived
    group by partition_key, list_type
),

master_lists_missing as (
    select
        partition_key,
        coalesce(bool_or(list_type = 'idp' and is_accepted), false) as has_accepted_idp_list,
        string_agg(list_type, ', ' order by list_type) filter (where not is_accepted)
            as master_lists_missing
    from master_lists
    group by partition_key
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
        ) as is_held_for_review,
        coalesce(missing.has_accepted_idp_list, false) as has_accepted_idp_list,
        missing.master_lists_missing
    from summarised
    left join latest_reviews on summarised.partition_key = latest_reviews.partition_key
    left join master_lists_missing as missing on summarised.partition_key = missing.partition_key
),

final as (
    select
        *,
        has_accepted_idp_list
        and master_lists_missing is null
        and not is_blocked_by_quarantine
        and not is_held_for_review as is_publishable
    from assessed
)

select * from final
