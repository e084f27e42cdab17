with

source as (
    select * from {{ source('raw', 'file_rejections') }}
    -- a version of a list refused beside others, loaded once it was the only one left
    where withdrawn_at is null
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
