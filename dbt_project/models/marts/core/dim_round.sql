with

batches as (
    select * from {{ ref('stg_raw__load_batches') }}
    where status = 'accepted'
),

assessed as (
    select * from {{ ref('int_rounds_assessed') }}
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
        assessed.review_status,
        assessed.is_held_for_review,
        assessed.is_blocked_by_quarantine,
        assessed.is_publishable
    from ordered
    inner join assessed on ordered.partition_key = assessed.partition_key
)

select * from final
