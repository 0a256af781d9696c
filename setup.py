"""Build the one compiled module, ``alerts.cap._fast`` (metadata lives in pyproject.toml).

It reads libxml2 nodes through lxml's public C API, so it compiles against the headers the
installed lxml wheel ships (``lxml.get_include()``). The module is optional: without a C
compiler the build warns and ``alerts.cap.parse`` runs its pure-Python path (same results).
"""

import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

extension = Extension(
    "alerts.cap._fast",
    ["alerts/cap/_fast.pyx"],
    include_dirs=lxml.get_include(),
    optional=True,
)
setup(ext_modules=cythonize([extension], language_level=3, quiet=True))
