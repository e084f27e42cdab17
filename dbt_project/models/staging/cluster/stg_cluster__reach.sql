with

source as (
    select * from {{ source('raw', 'cluster_reach') }}
    where {{ accepted_batches() }}
),

renamed as (
    select
        batch_id,
        partition_key,
        round_number,
        cast(workbook_year as integer) as workbook_year,
        row_kind = 'totals' as is_totals_row,
        try_cast(reference_month as date) as reporting_month,
        {{ hrp_code('hrp_code') }} as hrp_code,
        trim(activity) as activity,
        trim(governorate) as governorate_name,
        coalesce(nullif(trim(district), ''), '(not given)') as district_name,
        case regexp_replace(lower(trim(population_group)), 's$', '')
            when 'idp' then 'IDP'
            when 'returnee' then 'returnee'
            when 'host community' then 'host community'
            when 'newly displaced' then 'newly displaced'
            else trim(population_group)
        end as population_group,
        {{ to_count('female') }} as female,
        {{ to_count('male') }} as male,
        {{ to_count('total') }} as total,
        {{ to_count('households') }} as households,
        {{ yes_no('cumulative') }} as cumulative_flag,
        source_file,
        source_sha256,
        sheet_name,
        source_row_number,
        ingested_at
    from source
)

select * from renamed
