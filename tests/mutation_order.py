"""pytest plugin (PYTEST_PLUGINS=mutorder): network-free unit tests first, so that under
`pytest -x` a mutant is killed by a unit test before any fake tenant starts."""


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        path = str(getattr(item, "path", item.fspath))
        if "/tests/unit/" in path:
            return 0
        return 1 if "tenant" not in getattr(item, "fixturenames", ()) else 2
    items.sort(key=rank)
