{#
  Layers land in schemas named for themselves (`staging`, `marts`) locally and in prd, where they
  are datasets of the warehouse project. The dev target shares one dataset, so everything lands in
  the target's own schema there.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none or target.name == 'dev' -%}
    {{ target.schema }}
  {%- else -%}
    {{ custom_schema_name | trim }}
  {%- endif -%}
{%- endmacro %}
