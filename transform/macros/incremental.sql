{#
  Incremental marts. Each mart row carries `source_loaded_at`: the newest dlt load time among the
  raw rows it is built from. An incremental run rebuilds the rows whose inputs were loaded after
  the newest `source_loaded_at` already in the mart, less a look-back (`incremental_lookback_hours`):
  a load's time is when it started, and in the cloud a load may start before a dbt build and
  complete after it. Locally loads and builds never overlap (one run per home at a time): 0 hours.
  Rows rebuilt again are merged on the mart's key, so the look-back costs work, never duplicates.
#}
{% macro incremental_lookback_hours() -%}
  {{ return(var('incremental_lookback_hours', 0 if target.type == 'duckdb' else 2)) }}
{%- endmacro %}

{# Rows loaded after this are new to the mart (only inside `is_incremental()`; an empty mart takes all). #}
{% macro loaded_since_last_build() -%}
  coalesce((select max(source_loaded_at) from {{ this }}), {{ dlt_load_time("'0'") }}) - {{ hours_interval(incremental_lookback_hours()) }}
{%- endmacro %}

{% macro hours_interval(hours) %}{{ return(adapter.dispatch('hours_interval', 'toltek')(hours)) }}{% endmacro %}
{% macro default__hours_interval(hours) %}interval '{{ hours | int }} hours'{% endmacro %}
{% macro bigquery__hours_interval(hours) %}interval {{ hours | int }} hour{% endmacro %}

{# BigQuery: a mart partitioned by month on `field` (a date or timestamp); nothing elsewhere. #}
{% macro monthly_partitions(field, data_type) -%}
  {{ return({'field': field, 'data_type': data_type, 'granularity': 'month'} if target.type == 'bigquery' else none) }}
{%- endmacro %}

{% macro clustered_by(columns) -%}
  {{ return(columns if target.type == 'bigquery' else none) }}
{%- endmacro %}
