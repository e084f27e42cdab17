with

reports as (
    select * from {{ ref('int_ki_reports_located') }}
),

unnested as (
    select
        submission_uuid,
        partition_key,
        admin1_pcode,
        location_id,
        informant_key,
        unnest(priority_needs) as need
    from reports
),

final as (
    select distinct * from unnested
    where need <> ''
)

select * from final
