"""Use cases over the :class:`~gridmap.store.base.Store` protocol: no SQL, no Flask.

:mod:`.reporting` takes a report (every door: JSON API, Open311, field page, imports);
:mod:`.versions` publishes and activates grid versions and moves open incidents with them;
:mod:`.locating` puts points into grids with the edge rule; :mod:`.simulate` loads demo incidents.
"""
