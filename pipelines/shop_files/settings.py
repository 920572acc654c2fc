"""Settings of the Cloud Storage files source."""

import pyarrow as pa

# The warehouse partner drops one file of shipments per period, CSV or Parquet, into the folder
# `ShopFiles.landing_prefix` of the datalake's landing bucket, or into folders under it (`2026/06/`):
# every file under it is read, each known by its path there (so no other pipeline's landing folder
# may lie under it, unless the glob leaves that folder out).
FILE_GLOB = "**/*"
SHIPMENTS_SCHEMA = pa.schema(
    [
        pa.field("shipment_id", pa.int64(), nullable=False),
        pa.field("order_id", pa.int64(), nullable=False),
        pa.field("carrier", pa.string()),
        pa.field("shipped_at", pa.timestamp("us", tz="UTC")),
        pa.field("delivered_at", pa.timestamp("us", tz="UTC")),
        pa.field("weight_kg", pa.float64()),
    ]
)
