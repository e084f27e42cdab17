with

api as (
    select * from {{ ref('dtm_api_idps_admin1_by_round') }}
),

governorates as (
    select * from {{ ref('governorates') }}
),

warehouse as (
    select * from {{ ref('idps_by_governorate') }}
),

api_cod as (
    select
        api.round_number,
        api.reporting_date as api_reporting_date,
        governorates.admin1_pcode,
        api.admin1_name as api_admin1_name,
        api.idps_individuals as api_idps
    from api
    inner join governorates on api.admin1_pcode = governorates.api_pcode
),

final as (
    -- File dates can differ by a day from the API's (2019-10-31 against 2019-10-30):
    -- an entry is matched on round number and reporting month.
    select
        api_cod.round_number,
        api_cod.api_reporting_date,
        warehouse.reporting_date as warehouse_reporting_date,
        warehouse.partition_key,
        api_cod.admin1_pcode,
        api_cod.api_admin1_name,
        api_cod.api_idps,
        warehouse.idps as warehouse_idps,
        warehouse.idps - api_cod.api_idps as difference
    from api_cod
    left join warehouse
        on api_cod.round_number = warehouse.round_number
            and date_trunc('month', api_cod.api_reporting_date)
            = date_trunc('month', warehouse.reporting_date)
            and api_cod.admin1_pcode = warehouse.admin1_pcode
)

select * from final
