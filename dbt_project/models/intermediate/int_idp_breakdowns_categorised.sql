{{ categorise_breakdowns('idp') }}
