"""RFC 7512 key URIs: what the strict parser accepts and refuses."""

from __future__ import annotations

import pytest

from ledger.errors import BadData
from ledger.pkcs11uri import Pkcs11Uri


def test_token_and_object_are_read() -> None:
    uri = Pkcs11Uri.parse("pkcs11:token=absentia;object=hr-bureau-2026")
    assert (uri.token, uri.object, uri.id, uri.type) == ("absentia", "hr-bureau-2026",
                                                         None, None)
    assert uri.to_text() == "pkcs11:token=absentia;object=hr-bureau-2026"


def test_percent_encoding_is_decoded_and_written_back() -> None:
    # RFC 7512 §3 example: a label with a space and a raw ID.
    uri = Pkcs11Uri.parse("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;"
                          "object=%E4%BA%BA%E4%BA%8B;id=%01%02%ff;type=private")
    assert uri.token == "The Software PKCS#11 Softtoken"
    assert uri.object == "人事"
    assert uri.id == b"\x01\x02\xff"
    assert uri.type == "private"
    assert Pkcs11Uri.parse(uri.to_text()) == uri


@pytest.mark.parametrize(("text", "says"), [
    ("file:/k.pem", "not a PKCS#11 URI"),
    ("pkcs11:object=k", "token=LABEL is required"),
    ("pkcs11:token=absentia", "object=LABEL"),
    ("pkcs11:token=a;object=k;object=j", "given twice"),
    ("pkcs11:token=a;object=k;serial=42", "not supported"),
    ("pkcs11:token=a;object=k?pin-value=1234", "no query"),
    ("pkcs11:token=a;object=k%2", "broken percent-encoding"),
    ("pkcs11:token=a;object=k%zz", "broken percent-encoding"),
    ("pkcs11:token=a b;object=k", "must be percent-encoded"),
    ("pkcs11:token=a;object=k;type=secret", "type: one of"),
    ("pkcs11:token=a;object", "malformed attribute"),
    ("pkcs11:token=%ff;object=k", "not UTF-8"),
])
def test_malformed_uris_are_refused_naming_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(BadData, match=says) as err:
        Pkcs11Uri.parse(text, field="logs[0].key")
    assert err.value.field == "logs[0].key"
    assert "1234" not in str(err.value)
