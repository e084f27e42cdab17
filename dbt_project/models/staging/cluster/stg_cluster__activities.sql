with

source as (
    select * from {{ source('raw', 'cluster_activities') }}
    where {{ accepted_batches() }} and row_kind = 'data'
),

renamed as (
    select
        batch_id,
        partition_key,
        cast(workbook_year as integer) as workbook_year,
        {{ hrp_code('hrp_code') }} as hrp_code,
        trim(activity) as activity,
        lower(trim(unit)) as unit,
        {{ to_count('target') }} as target,
        coalesce({{ yes_no('headline') }}, false) as is_headline,
        source_file,
        source_sha256,
        sheet_name,
        source_row_number,
        ingested_at
    from source
)

select * from renamed
