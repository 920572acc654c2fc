select
    cast(id as {{ type_int64() }}) as product_id,
    sku,
    name as product_name,
    category,
    cast(price as {{ type_money() }}) as price,
    updated_at
from {{ source('shop_api', 'products') }}
where {{ completed_loads('shop_api') }}
