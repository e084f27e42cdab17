-- The wide breakdown columns (<dimension>__<category>) of both lists to long form; a column
-- an era's file (or the other list) lacks is null and dropped by the unpivot.
with

source as (
    select * from {{ ref('base_dtm__master_list_rows') }}
),

unpivoted as (
    unpivot (
        select
            list_type,
            batch_id,
            partition_key,
            round_number,
            trim(location_id) as location_id,
            source_row_number,
            columns('^(origin|shelter|period|last_displacement|return_shelter|return_period)__')
        from source
    )
    on columns('^(origin|shelter|period|last_displacement|return_shelter|return_period)__')
    into name canonical_column value reported_value
),

renamed as (
    select
        list_type,
        batch_id,
        partition_key,
        round_number,
        location_id,
        source_row_number,
        canonical_column,
        {{ to_count('reported_value') }} as reported_count
    from unpivoted
)

select * from renamed
