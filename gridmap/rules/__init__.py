"""One home per shared truth, no I/O: the edge rule (:mod:`.grid_index`), the incident loop
(:mod:`.workflow`), the indicators (:mod:`.kpi`), the Chinese labels (:mod:`.labels`) and the
map's zoom bands (:mod:`.display`). Every path calls these; ``GET /api/meta`` sends them to the
browser."""
