"""gridmap: grid division, address geocoding and one map for city-level grid governance.

Data flows one way: files → model → partition / geocode → store → web.
"""

__version__ = "0.1.0"
