"""Component resources: one per concern (datalake project, pipeline image, pipeline job, warehouse)."""
