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
    loads.completed_at as loaded_at
from {{ source('shop_files', 'shipments') }} as shipments
inner join {{ load_completions('shop_files') }} as loads
    on loads.load_id = shipments._dlt_load_id
qualify row_number() over (partition by shipment_id order by _file_modified_at desc nulls last, _file_name desc nulls last) = 1
