"""Reading and writing gridmap's layers, with every problem in a file reported at once.

Readers return GeoDataFrames in EPSG:4490 with the CONTRACT columns (codes and ids as text,
households/population as int) and raise ``InputError`` listing the problems. Writers are atomic.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.csv").write_text(
...     "address_id,address,lon,lat,households,population\\nA1,嘉兴市中山路1号,120.75,30.75,2,5\\n")
>>> read_addresses(folder / "a.csv")[["address_id", "households"]].to_dict("records")
[{'address_id': 'A1', 'households': 2}]
"""

from gridmap.io.atomic import atomic_output
from gridmap.io.checks import guess_kind
from gridmap.io.layers import (
    Report,
    check_file,
    read_addresses,
    read_barriers,
    read_boundaries,
    read_grids,
    read_layer,
    read_sites,
)
from gridmap.io.memory import use_system_allocator
from gridmap.io.write import write_layer

use_system_allocator()

__all__ = [
    "Report",
    "atomic_output",
    "guess_kind",
    "check_file",
    "read_addresses",
    "read_barriers",
    "read_boundaries",
    "read_grids",
    "read_layer",
    "read_sites",
    "write_layer",
]
