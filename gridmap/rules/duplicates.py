"""When a report repeats an open incident (重复上报): same subclass, within 50 m and 24 h.

Such a report is linked to the incident instead of opening another (the reporting service
applies this rule; a dispatcher can split a linked report off). Only taxonomy subclasses are
deduplicated: the built-in free types (garbage, noise, ...) are too coarse to say that two
reports are the same problem.

>>> distance_m(120.7, 30.7, 120.7, 30.7004) < DUPLICATE_METERS
True
>>> search_box(120.7, 30.7)[0] < 120.7 < search_box(120.7, 30.7)[2]
True
"""

from __future__ import annotations

import math
from datetime import timedelta

DUPLICATE_METERS = 50.0
DUPLICATE_WINDOW = timedelta(hours=24)
EARTH_RADIUS_M = 6_371_008.8


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine; CGCS2000 and WGS84 differ by centimetres)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def search_box(lon: float, lat: float, meters: float = DUPLICATE_METERS) -> tuple:
    """A (w, s, e, n) box holding every point within ``meters`` of the point (a little more)."""
    dlat = math.degrees(meters / EARTH_RADIUS_M) * 1.01
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    return (lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def is_duplicate(distance: float, age: timedelta) -> bool:
    """The rule itself: near enough and recent enough (age >= 0: the incident came first).

    >>> is_duplicate(49.9, timedelta(hours=23)), is_duplicate(50.1, timedelta(hours=1))
    (True, False)
    """
    return distance <= DUPLICATE_METERS and timedelta(0) <= age <= DUPLICATE_WINDOW
