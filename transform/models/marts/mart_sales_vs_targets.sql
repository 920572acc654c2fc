with targets as (
    select * from {{ ref('stg_shop_sheets__sales_targets') }}
),

actuals as (
    select
        order_month,
        channel,
        count(*) as order_count,
        sum(total_amount) as actual_revenue
    from {{ ref('fct_orders') }}
    where is_revenue
    group by order_month, channel
)

select
    coalesce(targets.target_month, actuals.order_month) as sales_month,
    coalesce(targets.channel, actuals.channel) as channel,
    targets.target_revenue,
    cast(coalesce(actuals.actual_revenue, 0) as {{ type_money() }}) as actual_revenue,
    cast(coalesce(actuals.order_count, 0) as {{ type_int64() }}) as order_count,
    {{ safe_ratio('coalesce(actuals.actual_revenue, 0)', 'targets.target_revenue') }} as attainment,
    '{{ invocation_id }}' as dbt_invocation_id
from targets
full outer join actuals
    on actuals.order_month = targets.target_month
    and actuals.channel = targets.channel
