with

idp_locations as (
    select * from {{ ref('fct_idp_locations') }}
),

returnee_locations as (
    select * from {{ ref('fct_returnee_locations') }}
),

sightings as (
    select
        *,
        'idp' as list_type
    from idp_locations
    union all by name
    select
        *,
        'returnee' as list_type
    from returnee_locations
),

final as (
    -- A location's latest attributes, and when it was seen in each list.
    select
        location_id,
        arg_max(place_id, reporting_date) as place_id,
        arg_max(location_name, reporting_date) as location_name,
        arg_max(location_name_ar, reporting_date) as location_name_ar,
        arg_max(admin1_pcode, reporting_date) as admin1_pcode,
        arg_max(admin2_pcode, reporting_date) as admin2_pcode,
        arg_max(latitude, reporting_date) as latitude,
        arg_max(longitude, reporting_date) as longitude,
        min(reporting_date) as first_seen_date,
        max(reporting_date) as last_seen_date,
        count(distinct partition_key) filter (where list_type = 'idp') as rounds_with_idps,
        count(distinct partition_key) filter (where list_type = 'returnee') as rounds_with_returnees
    from sightings
    group by location_id
)

select * from final
