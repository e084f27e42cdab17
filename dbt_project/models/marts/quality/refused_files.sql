with

rejections as (
    select * from {{ ref('stg_raw__file_rejections') }}
),

final as (
    select
        partition_key,
        list_type,
        source_file,
        source_sha256,
        reason,
        sheet_name,
        source_row_number,
        column_name,
        rejected_at
    from rejections
)

select * from final
