{{ stg_master_list_breakdowns('dtm_idp_master_list', ['origin', 'shelter', 'period']) }}
