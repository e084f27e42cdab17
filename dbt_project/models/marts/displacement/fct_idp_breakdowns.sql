{{ breakdown_fact('idp') }}
