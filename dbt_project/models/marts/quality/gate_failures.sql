with

failures as (
    select * from {{ ref('stg_raw__quality_failures') }}
),

batches as (
    select * from {{ ref('stg_raw__load_batches') }}
),

final as (
    select
        failures.partition_key,
        batches.round_number,
        batches.list_type,
        failures.source_file,
        failures.sheet_name,
        failures.expectation,
        failures.checked_columns,
        failures.severity,
        failures.description,
        failures.failing_rows,
        failures.sample_row_numbers,
        failures.sample_values,
        batches.status as batch_status,
        failures.checked_at
    from failures
    left join batches on failures.batch_id = batches.batch_id
)

select * from final
