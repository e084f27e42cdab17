with

source as (
    select * from {{ source('raw', 'quality_failures') }}
),

renamed as (
    select
        batch_id,
        partition_key,
        source_file,
        sheet_name,
        expectation,
        columns as checked_columns,
        severity,
        description,
        unexpected_count as failing_rows,
        array_to_string(sample_rows, ', ') as sample_row_numbers,
        array_to_string(sample_values, ' | ') as sample_values,
        checked_at
    from source
)

select * from renamed
