"""The parts of the ``pcpi`` command line (:mod:`pcpi.cli` is its entry point).

:mod:`.formats` turns items into the bytes of a ``.jsonl``, ``.json`` or
``.csv`` file (no I/O); :mod:`.state` is the resume file kept beside an export;
:mod:`.export` writes pages to a file or stdout, crash-safe and resumable;
:mod:`.progress` is the bar on stderr; :mod:`.tenant` reads the credentials and
picks the session.
"""
