"""Building blocks the pipelines' sources share: REST API steps (`rest.py`), the Google Sheets
`values` reader (`sheets.py`), and landed files read under a contract (`files.py`, `contract.py`,
`typed.py`).

Not a pipeline (it has no `pipeline.py`), and imported only by sources, so discovery never loads
dlt or pyarrow through it.
"""
