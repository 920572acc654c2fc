{#
  The raw table keeps every delivered version of a shipment (one per file). The newest wins: the
  latest file modification time, then the later file name, whatever order the files arrived in.
#}
select
    shipment_id,
    order_id,
    carrier,
    shipped_at,
    delivered_at,
    weight_kg,
    _file_name as source_file,
    _file_modified_at as source_modified_at,
    {{ dlt_load_time('_dlt_load_id') }} as loaded_at
from {{ source('shop_files', 'shipments') }}
where {{ completed_loads('shop_files') }}
qualify row_number() over (partition by shipment_id order by _file_modified_at desc nulls last, _file_name desc nulls last) = 1
