select
    cast(id as {{ type_int64() }}) as order_id,
    cast(customer_id as {{ type_int64() }}) as customer_id,
    channel,
    status,
    currency,
    cast(total_amount as {{ type_money() }}) as total_amount,
    created_at as ordered_at,
    updated_at,
    _dlt_id as order_row_id,
    {{ dlt_load_time('_dlt_load_id') }} as loaded_at
from {{ source('shop_api', 'orders') }}
where {{ completed_loads('shop_api') }}
