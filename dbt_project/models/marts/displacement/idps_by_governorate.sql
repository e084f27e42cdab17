{{ idps_by_area('admin1') }}
