{{ harmonise_locations('returnee') }}
