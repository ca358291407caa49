"""Seeded, deterministic data of a simulated home-services company, and how it changes over time.

- :mod:`.base`: the shared state, ids, draws and money;
- :mod:`.reference`: business units, job types, campaigns, technicians;
- :mod:`.history`: customers and their work (locations, jobs, appointments, invoices, items,
  payments), for the generated history and for new work;
- :mod:`.events`: ``advance(hours)``, the changes as the clock moves;
- :mod:`.workers`: the history generated in chunks, by worker processes on large tenants
  (:mod:`.chunk_worker` is their entry point);
- :mod:`.tenant`: :class:`World`, all of it as one object.
"""

from .tenant import World

__all__ = ["World"]
