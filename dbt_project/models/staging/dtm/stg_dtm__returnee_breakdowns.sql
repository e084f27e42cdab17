{{ stg_master_list_breakdowns(
    'dtm_returnee_master_list', ['last_displacement', 'return_shelter', 'return_period']
) }}
