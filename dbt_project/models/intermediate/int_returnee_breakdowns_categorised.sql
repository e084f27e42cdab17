{{ categorise_breakdowns('returnee') }}
