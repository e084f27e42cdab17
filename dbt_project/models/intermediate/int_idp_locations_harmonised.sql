{{ harmonise_locations('idp') }}
