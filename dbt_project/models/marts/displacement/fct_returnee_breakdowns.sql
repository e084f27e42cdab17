{{ breakdown_fact('returnee') }}
