-- Every file behind every round, with how the gate settled it: the provenance a publication
-- cites (sources.csv) and the first thing to look at when a round is held back.
with

batches as (
    select * from {{ ref('stg_raw__load_batches') }}
),

final as (
    select
        partition_key,
        round_number,
        reporting_month,
        list_type,
        source_file,
        source_sha256,
        source_size_bytes,
        sheet_name,
        row_count,
        status,
        status_reason,
        loaded_at,
        status_changed_at
    from batches
)

select * from final
