"""Every package's tables in one metadata, for Alembic and the tests."""

from __future__ import annotations

import importlib

from ticket_core.db import Base

# Model modules, in dependency order; a package not built yet is simply absent.
MODEL_MODULES = [
    "ticket_core.models", "accounts.models", "acd.models", "telephony.models",
    "callback.models", "mailgw.models", "chatgw.models", "indicators.models",
    "reports.models", "failover.models",
]

for _name in MODEL_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if _exc.name not in (_name, _name.rsplit(".", 1)[0]):
            raise

metadata = Base.metadata
