select
    cast(id as {{ type_int64() }}) as customer_id,
    email,
    first_name,
    last_name,
    country as country_code,
    created_at,
    updated_at,
    loads.completed_at as loaded_at
from {{ source('shop_api', 'customers') }} as customers
inner join {{ load_completions('shop_api') }} as loads
    on loads.load_id = customers._dlt_load_id
