"""Toltek pipelines: the shared types (`Pipeline`, environments, registry), the sources, and the
runtime that loads them. Never imports Pulumi: this is what a Cloud Run job executes."""
