{{ stg_master_list_locations('dtm_returnee_master_list') }}
