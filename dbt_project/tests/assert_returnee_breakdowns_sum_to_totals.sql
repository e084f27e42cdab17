{{ breakdowns_sum_to_totals('returnee') }}
