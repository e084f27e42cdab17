{{ stg_master_list_locations('dtm_idp_master_list') }}
