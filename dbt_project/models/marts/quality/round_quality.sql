-- The quality of each round in one row: how its files stand, what the gates and sense checks
-- found, its sign-off, whether a publication may carry it, and when the next round is due.
with

rounds as (
    select * from {{ ref('int_rounds_assessed') }}
),

batches as (
    select * from {{ ref('stg_raw__load_batches') }}
),

failures as (
    select * from {{ ref('stg_raw__quality_failures') }}
),

findings as (
    select * from {{ ref('stg_raw__sense_check_findings') }}
),

rejections as (
    select * from {{ ref('stg_raw__file_rejections') }}
),

cadence as (
    select * from {{ ref('round_cadence') }}
),

-- Failures of the batches that stand now (accepted or quarantined), not of superseded ones.
current_failures as (
    select
        failures.partition_key,
        cast(count(*) filter (where failures.severity = 'error') as integer) as critical_failures,
        cast(count(*) filter (where failures.severity = 'warning') as integer) as warning_failures
    from failures
    inner join batches
        on failures.batch_id = batches.batch_id
            and batches.status in ('accepted', 'quarantined')
    group by failures.partition_key
),

finding_counts as (
    select
        partition_key,
        cast(count(*) filter (where severity = 'hold') as integer) as hold_findings,
        cast(count(*) filter (where severity = 'warning') as integer) as warning_findings
    from findings
    group by partition_key
),

refused as (
    select
        partition_key,
        cast(count(*) as integer) as files_refused
    from rejections
    where partition_key is not null
    group by partition_key
),

final as (
    select
        rounds.partition_key,
        rounds.operation,
        rounds.round_number,
        rounds.reporting_month,
        rounds.reporting_date,
        rounds.batches_accepted,
        rounds.batches_quarantined,
        rounds.batches_superseded,
        rounds.batches_pending,
        coalesce(refused.files_refused, 0) as files_refused,
        coalesce(current_failures.critical_failures, 0) as critical_failures,
        coalesce(current_failures.warning_failures, 0) as warning_failures,
        coalesce(finding_counts.hold_findings, 0) as hold_findings,
        coalesce(finding_counts.warning_findings, 0) as warning_findings,
        rounds.review_status,
        rounds.review_reasons,
        rounds.review_figures,
        rounds.decided_by,
        rounds.decision_note,
        rounds.reviewed_at,
        rounds.has_accepted_master_list,
        rounds.master_lists_missing,
        rounds.is_blocked_by_quarantine,
        rounds.is_held_for_review,
        rounds.is_publishable,
        cast(
            rounds.reporting_date + to_days(cast(cadence.overdue_after_days as integer)) as date
        ) as next_round_overdue_after
    from rounds
    left join current_failures on rounds.partition_key = current_failures.partition_key
    left join finding_counts on rounds.partition_key = finding_counts.partition_key
    left join refused on rounds.partition_key = refused.partition_key
    left join cadence
        on
            rounds.reporting_date
            between cast(cadence.from_date as date) and cast(cadence.to_date as date)
)

select * from final
