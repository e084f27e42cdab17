{{ location_fact('returnee') }}
