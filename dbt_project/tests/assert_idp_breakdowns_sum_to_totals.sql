{{ config(meta={'dagster': {'ref': {'name': 'int_idp_breakdowns_categorised'}}}) }}
{{ breakdowns_sum_to_totals('idp') }}
