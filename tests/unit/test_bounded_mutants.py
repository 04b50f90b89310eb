"""The bounded cache (pcpi._bounded) at its edges: the smallest bounds it takes,
an entry exactly the size of the cache, a table filled exactly to its size, and
the bytes given back when an entry is replaced (mutation testing, issue 21)."""

from __future__ import annotations

import pytest

from pcpi._bounded import BoundedCache


def _by_length(key, value):
    return len(value)


def test_the_smallest_bounds_are_accepted_and_hold():
    one = BoundedCache(1, size=1, sizeof=_by_length)
    one.put("a", "x")
    assert one.items() == [("a", "x")] and one.held == 1
    one.put("b", "y")  # the one entry there is replaced by the newest
    assert one.items() == [("b", "y")] and one.held == 1


@pytest.mark.parametrize("bad", [{"entries": 0}, {"entries": -1}, {"entries": 5, "size": 0}])
def test_a_cache_without_room_is_refused_saying_what_it_needs(bad):
    with pytest.raises(ValueError) as raised:
        BoundedCache(**bad)
    assert str(raised.value) == "a bounded cache holds at least one entry and one byte"


def test_without_sizeof_nothing_is_counted_in_bytes():
    cache = BoundedCache(2)
    cache.put("a", "a long value")
    cache.put("b", "another")
    assert cache.held == 0


def test_an_entry_exactly_the_size_of_the_cache_is_kept():
    cache = BoundedCache(10, size=10, sizeof=_by_length)
    cache.put("whole", "x" * 10)
    assert cache.get("whole") == "x" * 10 and cache.held == 10


def test_a_cache_filled_exactly_to_its_size_forgets_nothing():
    cache = BoundedCache(10, size=10, sizeof=_by_length)
    for key, value in (("a", "xxx"), ("b", "xxx"), ("c", "xxxx")):
        cache.put(key, value)
    assert cache.keys() == ["a", "b", "c"] and cache.held == 10
    cache.put("d", "x")  # one byte over: the oldest goes
    assert cache.keys() == ["b", "c", "d"] and cache.held == 8


def test_replacing_an_entry_gives_back_its_own_bytes_only():
    cache = BoundedCache(10, size=100, sizeof=_by_length)
    cache.put("a", "xx")
    cache.put("b", "xxxx")
    cache.put("b", "x")
    assert cache.held == 3  # 2 (a) + 1 (b), not b's old size plus the new one
    cache.put("a", "xxxxx")
    assert cache.held == 6 and cache.items() == [("b", "x"), ("a", "xxxxx")]
