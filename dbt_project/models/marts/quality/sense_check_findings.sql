with

findings as (
    select * from {{ ref('stg_raw__sense_check_findings') }}
),

final as (
    select
        partition_key,
        previous_partition_key,
        list_type,
        check_name,
        subject,
        previous_value,
        current_value,
        threshold,
        severity,
        description,
        checked_at
    from findings
)

select * from final
