with customers as (
    select * from {{ ref('stg_shop_api__customers') }}
),

order_stats as (
    select
        customer_id,
        count(*) as order_count,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at,
        sum(case when is_revenue then total_amount else 0 end) as lifetime_revenue
    from {{ ref('fct_orders') }}
    group by customer_id
)

select
    customers.customer_id,
    customers.email,
    customers.country_code,
    customers.created_at as signed_up_at,
    cast(coalesce(order_stats.order_count, 0) as {{ type_int64() }}) as order_count,
    order_stats.first_ordered_at,
    order_stats.last_ordered_at,
    cast(coalesce(order_stats.lifetime_revenue, 0) as {{ type_money() }}) as lifetime_revenue
from customers
left join order_stats on order_stats.customer_id = customers.customer_id
