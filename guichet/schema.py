"""Every package's tables in one metadata, for Alembic and the tests."""

from __future__ import annotations

import accounts.models  # noqa: F401  (registers the tables)
import acd.models  # noqa: F401
import telephony.models  # noqa: F401
import ticket_core.models  # noqa: F401
from ticket_core.db import Base

metadata = Base.metadata
