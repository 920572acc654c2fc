select
    cast(orders.id as {{ type_int64() }}) as order_id,
    cast(items.line as {{ type_int64() }}) as line_number,
    cast(orders.id as {{ type_int64() }}) * 1000 + cast(items.line as {{ type_int64() }}) as order_item_id,
    cast(items.product_id as {{ type_int64() }}) as product_id,
    cast(items.quantity as {{ type_int64() }}) as quantity,
    cast(items.unit_price as {{ type_money() }}) as unit_price
from {{ source('shop_api', 'orders__items') }} as items
inner join {{ source('shop_api', 'orders') }} as orders
    on items._dlt_parent_id = orders._dlt_id
where {{ completed_loads('shop_api', 'orders') }}
