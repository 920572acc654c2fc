"""The Toltek policy pack: least privilege for the generated GCP infrastructure.

Rules live in importable modules (`rules_*.py`); `__main__.py` only builds the pack, because
constructing a `PolicyPack` starts the analyzer server and blocks.
"""
