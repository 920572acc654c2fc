with orders as (
    select * from {{ ref('stg_shop_api__orders') }}
),

items as (
    select
        order_id,
        count(*) as item_count,
        sum(quantity) as unit_count
    from {{ ref('stg_shop_api__order_items') }}
    group by order_id
),

shipments as (
    select * from {{ ref('stg_shop_files__shipments') }}
),

channels as (
    select * from {{ ref('channels') }}
)

select
    orders.order_id,
    orders.customer_id,
    orders.channel,
    channels.channel_name,
    orders.status,
    orders.status not in ('cancelled', 'refunded') as is_revenue,
    orders.ordered_at,
    {{ month_start('orders.ordered_at') }} as order_month,
    cast(coalesce(items.item_count, 0) as {{ type_int64() }}) as item_count,
    cast(coalesce(items.unit_count, 0) as {{ type_int64() }}) as unit_count,
    orders.total_amount,
    shipments.shipment_id,
    shipments.carrier,
    shipments.shipped_at,
    shipments.delivered_at
from orders
left join items on items.order_id = orders.order_id
left join shipments on shipments.order_id = orders.order_id
left join channels on channels.channel = orders.channel
