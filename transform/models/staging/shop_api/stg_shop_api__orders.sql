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
    loads.completed_at as loaded_at
from {{ source('shop_api', 'orders') }} as orders
inner join {{ load_completions('shop_api') }} as loads
    on loads.load_id = orders._dlt_load_id
