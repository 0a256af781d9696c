"""Pure geospatial core of alertcast: CAP areas, zones, the subscriber index and targeting.

No I/O beyond reading shipped data files; no FastAPI, database, HTTP or matplotlib.
"""
