select
    {{ month_from_label('month') }} as target_month,
    channel,
    cast(target_revenue as {{ type_money() }}) as target_revenue,
    owner as target_owner
from {{ source('shop_sheets', 'sales_targets') }}
where {{ completed_loads('shop_sheets') }}
