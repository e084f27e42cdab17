{{ config(meta={'dagster': {'ref': {'name': 'int_returnee_breakdowns_categorised'}}}) }}
{{ breakdowns_sum_to_totals('returnee') }}
