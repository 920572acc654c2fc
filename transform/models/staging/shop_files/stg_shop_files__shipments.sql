select
    shipment_id,
    order_id,
    carrier,
    shipped_at,
    delivered_at,
    weight_kg
from {{ source('shop_files', 'shipments') }}
where {{ completed_loads('shop_files') }}
