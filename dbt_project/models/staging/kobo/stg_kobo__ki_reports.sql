{#- Informants appear only as their key: name, phone, device id and the free-text comments
    (which can name people) are never selected from raw. -#}
{%- set needs = var('ki_need_choices') -%}
with

source as (
    select
        batch_id,
        partition_key,
        operation,
        admin0_pcode,
        round_number,
        reporting_month,
        file_date,
        submission_uuid,
        kobo_id,
        submission_time,
        validation_status,
        informant_key,
        marked_test,
        ki_role,
        ki_gender,
        governorate,
        district,
        place_id,
        location_name,
        idp_households,
        returnee_households,
        host_households,
        security,
        water,
        electricity,
        health,
        education,
        priority_needs,
        {%- for need in needs %}
            priority_needs__{{ need }},
        {%- endfor %}
        majority_intention,
        source_file,
        source_sha256,
        sheet_name,
        source_row_number,
        ingested_at
    from {{ source('raw', 'kobo_ki_reports') }}
    where {{ accepted_batches() }}
),

renamed as (
    select
        batch_id,
        partition_key,
        operation,
        admin0_pcode,
        round_number,
        reporting_month,
        file_date as reporting_date,
        trim(submission_uuid) as submission_uuid,
        try_cast(kobo_id as bigint) as kobo_id,
        try_cast(submission_time as timestamp) as submitted_at,
        coalesce(
            {{ validation_status('validation_status') }}, 'not_validated'
        ) as validation_status,
        informant_key,
        coalesce(marked_test = 'true', false) as is_test_submission,
        {{ kobo_choice('ki_role') }} as informant_role,
        {{ kobo_choice('ki_gender') }} as informant_gender,
        trim(governorate) as governorate_name,
        trim(district) as district_name,
        trim(place_id) as location_id,
        trim(location_name) as location_name,
        {{ ki_count('idp_households') }} as idp_households,
        {{ ki_count('returnee_households') }} as returnee_households,
        {{ ki_count('host_households') }} as host_households,
        {{ kobo_choice('security') }} as security,
        {{ kobo_choice('water') }} as water_access,
        {{ kobo_choice('electricity') }} as electricity_access,
        {{ kobo_choice('health') }} as health_access,
        {{ kobo_choice('education') }} as education_access,
        -- select_multiple: the space-separated field where the export has it, else the 0/1
        -- columns (label exports); choices as XML names either way.
        case
            when nullif(trim(priority_needs), '') is not null
                then {{ kobo_choices('priority_needs') }}
            else list_filter([
                    {%- for need in needs %}
                        case when trim(priority_needs__{{ need }}) = '1' then '{{ need }}' end
                        {{- "," if not loop.last }}
                    {%- endfor %}
                ], lambda need: need is not null)
        end as priority_needs,
        {{ kobo_choice('majority_intention') }} as majority_intention,
        source_file,
        source_sha256,
        sheet_name,
        source_row_number,
        ingested_at
    from source
),

-- Re-exports repeat submissions: the latest version of each _uuid wins (then test and
-- not-approved submissions go, so a submission rejected after an export is dropped).
deduplicated as (
    select * from renamed
    qualify row_number() over (
            partition by submission_uuid
            order by
                submitted_at desc nulls last,
                ingested_at desc,
                source_file desc,
                source_row_number desc
        ) = 1
),

final as (
    select * from deduplicated
    where not is_test_submission and validation_status <> 'not_approved'
)

select * from final
