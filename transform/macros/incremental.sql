{#
  Incremental marts. Each mart row carries `source_loaded_at`: the newest time a load of the raw
  rows it is built from completed (`load_completions`: `_dlt_loads.inserted_at`, not the load id,
  which is when the load started). An incremental run rebuilds the rows whose inputs completed
  after the newest `source_loaded_at` already in the mart, less a look-back
  (`incremental_lookback_hours`): in the cloud a load may complete while a build runs, and its
  `inserted_at` is its job's clock, stamped just before the row is visible. Locally loads and
  builds never overlap (one run per home at a time): 0 hours. Rows rebuilt again are merged on
  the mart's key, so the look-back costs work, never duplicates.
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
