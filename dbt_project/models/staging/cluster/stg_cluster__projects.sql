with

source as (
    select * from {{ source('raw', 'cluster_projects') }}
    where {{ accepted_batches() }}
),

renamed as (
    select
        batch_id,
        partition_key,
        cast(workbook_year as integer) as workbook_year,
        row_kind = 'totals' as is_totals_row,
        {{ hrp_code('hrp_code') }} as hrp_code,
        trim(cluster) as cluster,
        trim(project_title) as project_title,
        {{ to_count('budget_usd') }} as budget_usd,
        {{ to_count('target_total') }} as target_total,
        {{ to_count('target_female') }} as target_female,
        {{ to_count('target_male') }} as target_male,
        {{ to_count('target_idps') }} as target_idps,
        {{ to_count('target_returnees') }} as target_returnees,
        {{ to_count('target_host_community') }} as target_host_community,
        {{ to_count('target_newly_displaced') }} as target_newly_displaced,
        {{ to_count('needs_usd') }} as iom_identified_needs_usd,
        {{ to_count('needs_people') }} as iom_identified_needs_people,
        {{ to_count('funding_received_usd') }} as funding_received_usd,
        source_file,
        source_sha256,
        sheet_name,
        source_row_number,
        ingested_at
    from source
)

select * from renamed
