"""pcpi's version (a module of its own, so that nothing imports the package to read it)."""

__version__ = "1.1.0"
