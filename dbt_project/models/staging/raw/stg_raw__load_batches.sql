with

source as (
    select * from {{ source('raw', 'load_batches') }}
),

renamed as (
    select
        batch_id,
        partition_key,
        operation,
        admin0_pcode,
        round_number,
        reporting_month,
        file_date as reporting_date,
        list_type,
        raw_table,
        source_file,
        source_sha256,
        source_size as source_size_bytes,
        sheet_name,
        header_row,
        row_count,
        unknown_columns,
        warnings,
        status,
        status_reason,
        loaded_at,
        status_changed_at
    from source
)

select * from renamed
