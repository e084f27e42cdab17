with

source as (
    select * from {{ source('raw', 'file_rejections') }}
),

renamed as (
    select
        source_file,
        source_sha256,
        partition_key,
        list_type,
        reason,
        sheet_name,
        row_number as source_row_number,
        column_name,
        rejected_at
    from source
)

select * from renamed
