{#- Projects whose people reached cannot be counted whole: an Activities or Reach sheet of the
    workbook they come from (these bytes) failed the gate for some round, so a headline flag or
    some months of reach are missing from staging. Their figures are withheld, not shown short. -#}
with

projects as (
    select * from {{ ref('stg_cluster__projects') }}
    where not is_totals_row
),

load_batches as (
    select * from {{ ref('stg_raw__load_batches') }}
),

quarantined_sheets as (
    select
        source_file,
        source_sha256,
        string_agg(distinct sheet_name, ', ' order by sheet_name) as sheets
    from load_batches
    where list_type in ('cluster_activity', 'cluster_reach') and status = 'quarantined'
    group by source_file, source_sha256
),

final as (
    select
        projects.workbook_year,
        projects.hrp_code,
        quarantined_sheets.sheets as quarantined_sheets
    from projects
    inner join quarantined_sheets
        on
            projects.source_file = quarantined_sheets.source_file
            and projects.source_sha256 = quarantined_sheets.source_sha256
)

select * from final
