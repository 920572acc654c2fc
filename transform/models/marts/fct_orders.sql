{#
  Incremental: an order is rebuilt when its raw row (and so its items) or its shipment was loaded
  after the mart's last build, and so is the order a newly loaded shipment version moved away from
  (a correction re-assigning the shipment). A shipment that disappears from the raw data without
  a newer version (a file re-delivered without it) is only removed by a full refresh.
#}
{{
    config(
        materialized='incremental',
        unique_key='order_id',
        on_schema_change='append_new_columns',
        partition_by=monthly_partitions('order_month', 'date'),
        cluster_by=clustered_by(['order_id']),
    )
}}

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

{% if is_incremental() %}
, changed as (
    select order_id from orders where loaded_at > {{ loaded_since_last_build() }}
    union distinct
    select order_id from shipments where loaded_at > {{ loaded_since_last_build() }}
    union distinct
    {# The order a newly loaded shipment version left (a correction moving it to another order). #}
    select order_id from {{ this }}
    where shipment_id in (select shipment_id from shipments where loaded_at > {{ loaded_since_last_build() }})
)
{% endif %}

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
    shipments.delivered_at,
    greatest(orders.loaded_at, coalesce(shipments.loaded_at, orders.loaded_at)) as source_loaded_at,
    '{{ invocation_id }}' as dbt_invocation_id
from orders
left join items on items.order_id = orders.order_id
left join shipments on shipments.order_id = orders.order_id
left join channels on channels.channel = orders.channel
{% if is_incremental() %}
where orders.order_id in (select order_id from changed)
{% endif %}
