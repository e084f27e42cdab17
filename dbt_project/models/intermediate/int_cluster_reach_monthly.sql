{#- One monthly series per activity, place and population group: months reported as running
    totals (flagged, or detected where the sheet has no flag) become the month's own figure. -#}
{%- set series_columns = [
    'workbook_year', 'hrp_code', 'activity', 'governorate_name', 'district_name', 'population_group'
] -%}
{%- set series = series_columns | join(', ') -%}
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
        bool_and(coalesce(total >= previous_total, true)) as never_falls,
        count(*) filter (where total > previous_total) as rises
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
                -- a running total of an active series rises most months; a quiet monthly
                -- series (zeros, one late report) does not
                and series_shape.rises >= thresholds.min_months - 1
                then 'cumulative (detected)'
            else 'monthly (no flag)'
        end as reporting_basis
    from reach
    inner join series_shape on {{ columns_equal('reach', 'series_shape', series_columns) }}
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
        {{ running_total('female', series) }} as running_female,
        {{ running_total('male', series) }} as running_male,
        {{ running_total('total', series) }} as running_total,
        {{ running_total('households', series) }} as running_households
    from anchored
),

final as (
    select
        partition_key,
        round_number,
        {{ series }},
        reporting_month,
        reporting_basis,
        female as female_as_reported,
        male as male_as_reported,
        total as total_as_reported,
        households as households_as_reported,
        {{ month_of_running_total('female', series) }} as female_monthly,
        {{ month_of_running_total('male', series) }} as male_monthly,
        {{ month_of_running_total('total', series) }} as total_monthly,
        {{ month_of_running_total('households', series) }} as households_monthly,
        source_file,
        source_row_number
    from running
)

select * from final
