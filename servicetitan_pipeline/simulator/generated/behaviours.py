"""Per-entity behaviours of the generated entities, where KPIs need realism (see ``contract``).

Entities without an entry get ``contract.DEFAULT``. The entries are written against the
contract by the behaviours part of the work; this registry starts empty.
"""

from __future__ import annotations

from collections.abc import Mapping

from .contract import Behaviour

BEHAVIOURS: Mapping[str, Behaviour] = {}
