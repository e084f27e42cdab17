with

source as (
    select * from {{ source('raw', 'sense_check_findings') }}
),

renamed as (
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
    from source
)

select * from renamed
