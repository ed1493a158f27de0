"""The document-signing key (ECDSA P-256) inside a real SoftHSM2 token, through pyHanko.

A PDF rendered by WeasyPrint is signed by pyHanko's PKCS11Signer with the token key and
checked by pyHanko against the local CA and by poppler's ``pdfsig`` (not our code).
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11e

from ledger.config import PublicitySettings
from ledger.errors import CouldNotCheck, NotAllowed
from ledger.hsm import Hsm
from ledger.pkcs11uri import Pkcs11Uri
from publicity.signing import check_signature, load_or_create_identity, sign_pdf
from tests.hsm import SoftHsm

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ORG = "示例市人力资源和社会保障局"


def small_pdf() -> bytes:
    import weasyprint  # type: ignore[import-untyped]

    out = weasyprint.HTML(string="<p>存档报告 archive report</p>").write_pdf()
    assert isinstance(out, bytes)
    return out


def test_a_report_signed_in_the_token_validates_with_pyhanko_and_pdfsig(
    tmp_path: Path, softhsm: SoftHsm
) -> None:
    label = f"hr-doc-{os.urandom(4).hex()}"
    cfg = PublicitySettings(signing_key=f"pkcs11:token=absentia;object={label}")
    hsm = Hsm(softhsm.settings)
    identity = load_or_create_identity(tmp_path / "keys", cfg, ORG, NOW, hsm)
    assert identity.key is None  # nothing of the key is in this process
    assert not (tmp_path / "keys" / "publicity" / "signing-key.pem").exists()
    signed = sign_pdf(small_pdf(), identity, reason="Archive report test",
                      location="示例市", name=ORG)
    sig = check_signature(signed, [identity.root])
    assert sig is not None
    assert (sig.intact, sig.valid, sig.trusted, sig.entire_file) == (True,) * 4, sig.summary
    assert "document signing" in sig.signer
    path = tmp_path / "report.pdf"
    path.write_bytes(signed)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert "Signature is Valid" in out.stdout
    assert "Total document signed" in out.stdout
    assert "Signature Type: ETSI.CAdES.detached" in out.stdout
    assert f"Signer Certificate Common Name: {ORG} document signing" in out.stdout

    # A restart finds the same key and certificate (and checks that they belong together).
    again = load_or_create_identity(tmp_path / "keys", cfg, ORG, NOW, Hsm(softhsm.settings))
    assert again.cert == identity.cert
    # The private key cannot be read out of the token.
    with hsm.token("absentia").session() as session:
        (private,) = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                          Attribute.LABEL: label})
        assert private[Attribute.EXTRACTABLE] is False
        with pytest.raises(p11e.AttributeSensitive):
            private[Attribute.VALUE]


def test_a_certificate_of_another_key_and_a_missing_pkcs11_table_are_refused(
    tmp_path: Path, softhsm: SoftHsm
) -> None:
    hsm = Hsm(softhsm.settings)
    first = PublicitySettings(signing_key=f"pkcs11:token=absentia;object=a-{os.urandom(4).hex()}")
    other = load_or_create_identity(tmp_path / "keys", first, ORG, NOW, hsm)
    cert = tmp_path / "other.pem"
    cert.write_bytes(other.cert.public_bytes(serialization.Encoding.PEM))
    label = f"b-{os.urandom(4).hex()}"
    hsm.token("absentia").create_ec_p256(Pkcs11Uri("absentia", label))
    mixed = PublicitySettings(signing_key=f"pkcs11:token=absentia;object={label}",
                              signing_cert=str(cert))
    with pytest.raises(CouldNotCheck, match="is not the certificate of the token key"):
        load_or_create_identity(tmp_path / "keys", mixed, ORG, NOW, hsm)
    with pytest.raises(NotAllowed, match=r"no \[pkcs11\] table"):
        load_or_create_identity(tmp_path / "keys", mixed, ORG, NOW, None)
