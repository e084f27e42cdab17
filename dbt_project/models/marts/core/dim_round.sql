with

batches as (
    select * from {{ ref('stg_raw__load_batches') }}
    where status = 'accepted'
),

assessed as (
    select * from {{ ref('int_rounds_assessed') }}
),

accepted as (
    select
        partition_key,
        min(reporting_date) as reporting_date,
        bool_or(list_type = 'idp') as has_idp_list,
        bool_or(list_type = 'returnee') as has_returnee_list
    from batches
    group by partition_key
),

rounds as (
    select
        accepted.partition_key,
        assessed.operation,
        assessed.admin0_pcode,
        assessed.round_number,
        assessed.reporting_month,
        accepted.reporting_date,
        accepted.has_idp_list,
        accepted.has_returnee_list
    from accepted
    inner join assessed on accepted.partition_key = assessed.partition_key
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
