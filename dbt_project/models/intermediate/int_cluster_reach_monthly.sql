{#- One monthly series per activity, place and population group: months reported as running
    totals (flagged, or detected where the sheet has no flag) become the month's own figure. -#}
{%- set series = 'workbook_year, hrp_code, activity, governorate_name, district_name, population_group' -%}
{%- set measures = ['female', 'male', 'total', 'households'] -%}
with

reach as (
    select * from {{ ref('stg_cluster__reach') }}
    where not is_totals_row
),

thresholds as (
    select cast(value as integer) as min_months
    from {{ ref('analysis_thresholds') }}
    where rule = 'cumulative_detection_min_months'
),

with_previous as (
    select
        *,
        lag(total) over (partition by {{ series }} order by reporting_month) as previous_total
    from reach
),

series_shape as (
    select
        {{ series }},
        count(*) as months_reported,
        count(cumulative_flag) as months_flagged,
        bool_and(coalesce(total >= previous_total, true)) as never_falls
    from with_previous
    group by {{ series }}
),

with_basis as (
    select
        reach.*,
        case
            when reach.cumulative_flag then 'cumulative'
            when not reach.cumulative_flag then 'monthly'
            when
                series_shape.months_flagged = 0
                and series_shape.never_falls
                and series_shape.months_reported >= thresholds.min_months
                then 'cumulative (detected)'
            else 'monthly (no flag)'
        end as reporting_basis
    from reach
    inner join series_shape using ({{ series }})
    cross join thresholds
),

-- Each running-total month starts a group; the months after it (monthly figures) add to it.
anchored as (
    select
        *,
        reporting_basis like 'cumulative%' as is_running_total,
        sum(case when reporting_basis like 'cumulative%' then 1 else 0 end) over (
            partition by {{ series }} order by reporting_month
            rows between unbounded preceding and current row
        ) as anchor_group
    from with_basis
),

running as (
    select
        *,
        {%- for measure in measures %}
        coalesce(max(case when is_running_total then {{ measure }} end) over (
            partition by {{ series }}, anchor_group
        ), 0) + sum(case when is_running_total then 0 else coalesce({{ measure }}, 0) end) over (
            partition by {{ series }}, anchor_group order by reporting_month
            rows between unbounded preceding and current row
        ) as running_{{ measure }}{{ "," if not loop.last }}
        {%- endfor %}
    from anchored
),

final as (
    select
        partition_key,
        round_number,
        {{ series }},
        reporting_month,
        reporting_basis,
        {%- for measure in measures %}
        {{ measure }} as {{ measure }}_as_reported,
        case when {{ measure }} is not null then
            running_{{ measure }} - coalesce(lag(running_{{ measure }}) over (
                partition by {{ series }} order by reporting_month
            ), 0)
        end as {{ measure }}_monthly,
        {%- endfor %}
        source_file,
        source_row_number
    from running
)

select * from final
