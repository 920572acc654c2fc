{# Project-local cross-database macros, dispatched per adapter (no packages needed). #}

{# First day of the month of a timestamp, as a date. #}
{% macro month_start(ts) %}{{ return(adapter.dispatch('month_start', 'toltek')(ts)) }}{% endmacro %}
{% macro default__month_start(ts) %}cast(date_trunc('month', {{ ts }}) as date){% endmacro %}
{% macro bigquery__month_start(ts) %}date_trunc(date({{ ts }}), month){% endmacro %}

{# A 'YYYY-MM' month label parsed to the first day of that month. #}
{% macro month_from_label(label) %}{{ return(adapter.dispatch('month_from_label', 'toltek')(label)) }}{% endmacro %}
{% macro default__month_from_label(label) %}cast({{ label }} || '-01' as date){% endmacro %}
{% macro bigquery__month_from_label(label) %}parse_date('%Y-%m-%d', concat({{ label }}, '-01')){% endmacro %}

{# Exact money amounts. #}
{% macro type_money() %}{{ return(adapter.dispatch('type_money', 'toltek')()) }}{% endmacro %}
{% macro default__type_money() %}decimal(18, 2){% endmacro %}
{% macro bigquery__type_money() %}numeric{% endmacro %}

{# Ratio that is null instead of an error when the denominator is zero. #}
{% macro safe_ratio(numerator, denominator) %}{{ return(adapter.dispatch('safe_ratio', 'toltek')(numerator, denominator)) }}{% endmacro %}
{% macro default__safe_ratio(numerator, denominator) %}case when {{ denominator }} = 0 then null else cast({{ numerator }} as double) / {{ denominator }} end{% endmacro %}
{% macro bigquery__safe_ratio(numerator, denominator) %}safe_divide({{ numerator }}, {{ denominator }}){% endmacro %}

{#
  Rows of a raw table that belong to completed dlt loads only. A load killed half-way leaves rows
  whose load id never reaches `_dlt_loads` with status 0; they are invisible here until a rerun
  completes them.
#}
{% macro completed_loads(source_name, alias='') -%}
  {{ alias ~ '.' if alias }}_dlt_load_id in (
    select load_id from {{ source(source_name, '_dlt_loads') }} where status = 0
  )
{%- endmacro %}

{#
  The completed dlt loads of a source, one row per load id with the time it completed
  (`_dlt_loads.inserted_at`, written once all of a load's rows are in): what a staging model joins
  its raw rows to, as `loaded_at`. A load id is the time its extract *started*: a load left pending
  by an interrupted run completes later under its old id, after other pipelines' newer loads may
  have been built, and an incremental mart comparing load ids would never see it.
#}
{% macro load_completions(source_name) -%}
  (select load_id, max(inserted_at) as completed_at from {{ source(source_name, '_dlt_loads') }} where status = 0 group by load_id)
{%- endmacro %}

{# 64-bit integers (dbt's own type_bigint spells BIGINT on BigQuery too). #}
{% macro type_int64() %}{{ return(adapter.dispatch('type_int64', 'toltek')()) }}{% endmacro %}
{% macro default__type_int64() %}bigint{% endmacro %}
{% macro bigquery__type_int64() %}int64{% endmacro %}

{# When dlt loaded a row: its load id is the load's start, in seconds since the epoch. #}
{% macro dlt_load_time(load_id) %}{{ return(adapter.dispatch('dlt_load_time', 'toltek')(load_id)) }}{% endmacro %}
{% macro default__dlt_load_time(load_id) %}to_timestamp(cast({{ load_id }} as double)){% endmacro %}
{% macro bigquery__dlt_load_time(load_id) %}timestamp_micros(cast(cast({{ load_id }} as float64) * 1000000 as int64)){% endmacro %}
