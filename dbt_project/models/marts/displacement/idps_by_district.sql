{{ idps_by_area('admin2') }}
