"""Settlement documents to bytes: JSON, CSV (and EHF in `billing.export.ehf`).

Exporters take the CONTRACT 6 document (a dict, as `Settlement.to_document()` gives
it or as read back from the store) and return bytes; callers write the files. They
never recompute amounts, so every format shows exactly what the ledger issued.
"""

from billing.export.csv_export import render_csv
from billing.export.json_export import render_json, settlement_file_name

__all__ = ["render_csv", "render_json", "settlement_file_name"]
