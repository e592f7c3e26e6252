"""Every table of every feature, for Alembic's autogenerate, `create_all` in tests and erasure's completeness check.

Each feature's tables live in `storage/<feature>/tables.py`; importing them all registers them on
SQLModel.metadata. A new feature's tables are found by their folder, with no list to keep.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path


def import_all_tables() -> None:
    root = Path(__file__).parent
    for module in pkgutil.iter_modules([str(root)]):
        if module.ispkg and (root / module.name / "tables.py").exists():
            importlib.import_module(f"storage.{module.name}.tables")
