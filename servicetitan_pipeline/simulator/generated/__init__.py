"""Entities the simulator generates from the entity table and the spec (everything the
hand-written ``world`` does not build): records synthesised from each entity's component schema,
references resolved to real records, and per-entity behaviours where KPIs need realism."""
