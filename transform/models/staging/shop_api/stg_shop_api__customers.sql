select
    cast(id as {{ type_int64() }}) as customer_id,
    email,
    first_name,
    last_name,
    country as country_code,
    created_at,
    updated_at,
    {{ dlt_load_time('_dlt_load_id') }} as loaded_at
from {{ source('shop_api', 'customers') }}
where {{ completed_loads('shop_api') }}
