{#
  Incremental: a customer is rebuilt when their raw row was loaded, or one of their orders was
  rebuilt in fct_orders, after this mart's last build; their order history is then aggregated
  again from all their orders. (An order moved to another customer leaves the former customer's
  history as it was until a full refresh: the shop's orders never change customer.)
#}
{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        on_schema_change='append_new_columns',
        partition_by=monthly_partitions('signed_up_at', 'timestamp'),
        cluster_by=clustered_by(['customer_id']),
    )
}}

with customers as (
    select * from {{ ref('stg_shop_api__customers') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

{% if is_incremental() %}
changed as (
    select customer_id from customers where loaded_at > {{ loaded_since_last_build() }}
    union distinct
    select customer_id from orders where source_loaded_at > {{ loaded_since_last_build() }}
),
{% endif %}

order_stats as (
    select
        customer_id,
        count(*) as order_count,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at,
        sum(case when is_revenue then total_amount else 0 end) as lifetime_revenue,
        max(source_loaded_at) as source_loaded_at
    from orders
    {% if is_incremental() %}
    where customer_id in (select customer_id from changed)
    {% endif %}
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
    cast(coalesce(order_stats.lifetime_revenue, 0) as {{ type_money() }}) as lifetime_revenue,
    greatest(customers.loaded_at, coalesce(order_stats.source_loaded_at, customers.loaded_at)) as source_loaded_at,
    '{{ invocation_id }}' as dbt_invocation_id
from customers
left join order_stats on order_stats.customer_id = customers.customer_id
{% if is_incremental() %}
where customers.customer_id in (select customer_id from changed)
{% endif %}
