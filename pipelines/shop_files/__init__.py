"""The files source (Cloud Storage drops): the class in `pipeline.py`, the dlt source in `source.py` (described there),
its constants in `settings.py`."""


def __getattr__(name: str) -> object:
    # The source (and dlt, pyarrow, requests) loads on first use, not when discovery imports the
    # pipeline class: listing and planning pipelines never pay for it.
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.source"), name)
