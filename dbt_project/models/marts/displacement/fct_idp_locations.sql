{{ location_fact('idp') }}
