"""Redaction's forms of a secret, one by one (pcpi/_redact.py: ``forms``, ``_char``,
the IDNA forms, ``remember``): each form a text can hold the secret in is
replaced whole, and the text around it, or text that only resembles a secret,
is left as it was.  Network-free."""

from __future__ import annotations

import json
import os
from urllib.parse import quote, quote_plus

import idna
import pytest

from pcpi import _redact
from pcpi._redact import REDACTED, held_bytes, redact, remember

from .. import _secrets

# what every placement is surrounded by, and ordinary text no secret may touch
# (the words an encoder's or a codec's name would leave behind if it were lost)
AROUND = "[in {} out]"
ORDINARY = "a null value, one None, a url, on and off, XXXX, plus+sign, ASCII, a+b"

# escapes of every kind: quotes (repr escapes ' when " is there too), a backslash,
# '/' (JSON's optional \/), Gson's HTML-safe set, non-ASCII (JSON's \u00e9, UTF-8 read
# as Latin-1)
ESCAPED = "Zq7é\"'/<x\\k=&"


def _gson(text):
    return "".join(f"\\u{ord(c):04x}" if c in "<>&='" else c for c in text)


def _placed(secret_form):
    return AROUND.format(secret_form)


def _assert_redacted(*texts):
    for text in texts:
        assert redact(_placed(text)) == _placed(REDACTED), text


def test_each_escaped_form_of_a_short_secret_is_replaced_whole():
    remember(ESCAPED)
    inner = json.dumps(ESCAPED)[1:-1]
    _assert_redacted(
        ESCAPED, ESCAPED.upper(),
        repr(ESCAPED)[1:-1],                                # Python's repr
        inner,                                              # JSON, ASCII
        json.dumps(ESCAPED, ensure_ascii=False)[1:-1],      # JSON, UTF-8
        inner.replace("/", "\\/"),                          # JSON with \/
        _gson(inner),                                       # Gson's HTML-safe escapes
        ESCAPED.encode("utf-8").decode("latin-1"),          # a header line
        quote(ESCAPED, safe=""), quote(ESCAPED, safe="").upper(),  # percent-encoded
    )
    assert redact(ORDINARY) == ORDINARY


def test_a_space_may_be_a_plus_but_nothing_else_is():
    spaced = "Zq7 pass Mk"
    remember(spaced, "Zq7-plus-Mk")
    _assert_redacted(spaced, "Zq7+pass+Mk", "Zq7%20pass+Mk")
    # a text that only resembles a secret stays readable
    assert redact("Zq7+plus+Mk") == "Zq7+plus+Mk"
    assert redact(ORDINARY) == ORDINARY


def test_a_host_name_secret_is_replaced_in_both_idna_standards():
    one, two = "Straße-Zq7", "straße.zq7mk"   # ß: 'ss' in IDNA 2003, kept in IDNA 2008
    remember(one, two)
    for secret in (one, two):
        i2003 = secret.encode("idna").decode("ascii")
        i2008 = idna.encode(secret.lower(), strict=True, std3_rules=True).decode("ascii")
        assert i2003 != i2008
        for host in (i2003, i2008, i2008.upper()):
            assert redact(f"https://{host}/x") == f"https://{REDACTED}/x", host
    assert redact(ORDINARY) == ORDINARY


def test_a_secret_that_is_no_host_name_leaves_no_trace_in_a_refused_encoding():
    # IDNA 2008 refuses '!': the refusal names the label, secret included; pcpi
    # catches it and marks it replaced, so that it never counts as leaving pcpi
    planted = f"straße!zq7{os.urandom(4).hex()}"
    _secrets.SECRETS.add(planted)
    try:
        remember(planted)
        assert _secrets.leaks() == []
    finally:
        _secrets.SECRETS.discard(planted)  # planted here: not a leak of pcpi's
    assert redact(_placed(planted)) == _placed(REDACTED)


def test_a_lone_surrogate_in_a_secret_is_remembered_and_replaced():
    odd = "ab\ud800cd-zq7"  # what a JSON "\ud800" decodes to
    remember(odd)
    _assert_redacted(odd, "ab%ed%a0%80cd-zq7", odd.encode("utf-8", "surrogatepass")
                     .decode("latin-1"))


@pytest.mark.parametrize("length", [_redact.SHORT, _redact.SHORT + 7])
def test_a_secret_with_one_letter_percent_encoded_is_replaced_up_to_the_short_length(length):
    secret = f"Zq7{os.urandom(4).hex()}".ljust(length, "m")
    remember(secret)
    one_encoded = secret[:12] + "%6d" + secret[13:]  # 'm' as %6d
    if length <= _redact.SHORT:  # matched character by character
        _assert_redacted(one_encoded)
    _assert_redacted(secret, secret.upper())


def test_each_literal_form_of_a_long_secret_is_replaced_whole():
    long_secret = "P@ss w/rd%é:" + "y" * 70
    remember(long_secret)
    _assert_redacted(long_secret, long_secret.upper(),
                     quote(long_secret, safe=""),
                     quote(long_secret, safe="!#$%&'()*+,/:;=?@[]~"),  # requests' requote
                     quote_plus(long_secret),
                     json.dumps(long_secret)[1:-1])
    assert redact(ORDINARY) == ORDINARY


def test_a_jwt_is_remembered_and_replaced():
    jwt = f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{os.urandom(6).hex()}.c2lnbmF0dXJl"
    remember(jwt)
    _assert_redacted(jwt)
    assert redact(ORDINARY) == ORDINARY


def test_a_secret_of_the_minimum_length_is_remembered():
    short = "Zé7!"
    assert len(short) == _redact.MIN_SECRET
    remember(short)
    _assert_redacted(short)


def test_a_flood_of_tokens_does_not_push_out_a_lasting_secret():
    key = f"key-{os.urandom(6).hex()}"
    remember(key, lasting=True)
    run = os.urandom(4).hex()
    for i in range(_redact.LASTING[0] + 50):  # more tokens than either table holds
        remember(f"eyJhbGciOiJIUzI1NiJ9.eyJ{run}{i:05d}.c2ln")
    _assert_redacted(key)


def test_a_secret_remembered_after_the_matchers_were_built_is_replaced():
    redact("")  # the matchers are built now
    later, token = f"later-{os.urandom(6).hex()}", f"pinned-{os.urandom(6).hex()}"
    remember(later)
    _redact.pin(token)  # a session's token: one more change
    try:
        _assert_redacted(later, token)
    finally:
        _redact.pin(None, previous=token)


def test_a_short_secret_counts_its_matcher_in_the_bytes_held():
    # (new each run: a short secret's per-character pattern is several times its length)
    secret = f"é-{os.urandom(8).hex()}-Zq7".ljust(_redact.SHORT, "ü")
    before = held_bytes()
    remember(secret, lasting=True)
    assert held_bytes() - before >= 4 * len(secret)


def test_a_host_ending_in_a_dot_is_redacted_as_urllib3_writes_it():
    # (labels encoded one by one found no form for "straße." at all)
    from pcpi._redact import redact

    assert "strae" not in redact("https://xn--strae-oqa./x", ["Straße."])
