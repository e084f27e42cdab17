with

batches as (
    select * from {{ ref('stg_raw__load_batches') }}
    where status = 'accepted'
),

latest_reviews as (
    select * from {{ ref('stg_raw__round_reviews') }}
    qualify row_number() over (partition by partition_key order by reviewed_at desc) = 1
),

rounds as (
    select
        partition_key,
        any_value(operation) as operation,
        any_value(admin0_pcode) as admin0_pcode,
        any_value(round_number) as round_number,
        any_value(reporting_month) as reporting_month,
        min(reporting_date) as reporting_date,
        bool_or(list_type = 'idp') as has_idp_list,
        bool_or(list_type = 'returnee') as has_returnee_list
    from batches
    group by partition_key
),

ordered as (
    -- "Previous round" is previous by reporting date (Round 46 sits between the two Round 48s).
    select
        *,
        last_value(case when has_idp_list then partition_key end ignore nulls) over (
            order by reporting_month, round_number
            rows between unbounded preceding and 1 preceding
        ) as previous_idp_partition_key,
        last_value(case when has_returnee_list then partition_key end ignore nulls) over (
            order by reporting_month, round_number
            rows between unbounded preceding and 1 preceding
        ) as previous_returnee_partition_key
    from rounds
),

final as (
    select
        ordered.*,
        latest_reviews.review_status,
        coalesce(
            latest_reviews.review_status in ('awaiting_sign_off', 'rejected'), false
        ) as is_held_for_review
    from ordered
    left join latest_reviews on ordered.partition_key = latest_reviews.partition_key
)

select * from final
