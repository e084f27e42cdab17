-- Rows of accepted IDP and returnee master lists, as raw holds them (text), with the list
-- they come from: the two staging views of the master lists read this one base.
with

idp_source as (
    select * from {{ source('raw', 'dtm_idp_master_list') }}
    where {{ accepted_batches() }}
),

returnee_source as (
    select * from {{ source('raw', 'dtm_returnee_master_list') }}
    where {{ accepted_batches() }}
),

unioned as (
    select
        'idp' as list_type,
        *
    from idp_source
    union all by name
    select
        'returnee' as list_type,
        *
    from returnee_source
)

select * from unioned
