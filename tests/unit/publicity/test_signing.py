"""The document-signing identity: a local P-256 CA and a nonRepudiation signing cert."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from ledger.config import PublicitySettings
from ledger.errors import NotAllowed
from publicity.signing import (
    CA_CERT,
    CA_KEY,
    SIGNING_CERT,
    SIGNING_KEY,
    SUBDIR,
    load_or_create_identity,
)

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
ORG = "absentia.example.gov.cn/hr-bureau/2026"


def test_created_ca_and_cert_are_p256_and_the_cert_has_non_repudiation(tmp_path: Path) -> None:
    ident = load_or_create_identity(tmp_path / "keys", PublicitySettings(), ORG, NOW)
    ca = ident.root
    for c in (ca, ident.cert):
        key = c.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        assert isinstance(key.curve, ec.SECP256R1)
    assert ident.key is not None
    assert isinstance(ident.key.curve, ec.SECP256R1)
    ku = ident.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.content_commitment
    assert ku.digital_signature
    assert not ku.key_cert_sign
    assert not ident.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    ident.cert.verify_directly_issued_by(ca)  # raises if not signed by the CA
    assert ident.cert.issuer == ca.subject


def test_files_are_private_and_reused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = load_or_create_identity(keys, PublicitySettings(), ORG, NOW)
    folder = keys / SUBDIR
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in (CA_CERT, CA_KEY, SIGNING_CERT, SIGNING_KEY):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    second = load_or_create_identity(keys, PublicitySettings(), ORG, NOW)
    assert second.cert == first.cert
    assert second.root == first.root
    assert second.key is not None
    assert first.key is not None
    assert second.key.private_numbers() == first.key.private_numbers()


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    load_or_create_identity(keys, PublicitySettings(), ORG, NOW)
    (keys / SUBDIR / SIGNING_KEY).chmod(0o644)
    with pytest.raises(NotAllowed):
        load_or_create_identity(keys, PublicitySettings(), ORG, NOW)


def test_configured_pem_files_are_used(tmp_path: Path) -> None:
    made = load_or_create_identity(tmp_path / "a", PublicitySettings(), ORG, NOW)
    folder = tmp_path / "a" / SUBDIR
    cfg = PublicitySettings.from_table({
        "signing_cert": str(folder / SIGNING_CERT), "signing_key": str(folder / SIGNING_KEY),
        "signing_chain": str(folder / CA_CERT)})
    loaded = load_or_create_identity(tmp_path / "b", cfg, ORG, NOW)
    assert loaded.cert == made.cert
    assert loaded.root == made.root
    assert not (tmp_path / "b").exists()


def test_created_certificates_carry_exactly_their_extensions(tmp_path: Path) -> None:
    ident = load_or_create_identity(tmp_path / "keys", PublicitySettings(), ORG, NOW)
    ca, cert = ident.root, ident.cert
    ca_bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert ca_bc.critical
    assert (ca_bc.value.ca, ca_bc.value.path_length) == (True, 0)
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value == x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False)
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value == x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False)
    assert [e.oid for e in ca.extensions] == [
        x509.BasicConstraints.oid, x509.KeyUsage.oid, x509.SubjectKeyIdentifier.oid]
    assert [e.oid for e in cert.extensions] == [
        x509.BasicConstraints.oid, x509.KeyUsage.oid, x509.SubjectKeyIdentifier.oid,
        x509.AuthorityKeyIdentifier.oid]
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert ca.issuer == ca.subject
    assert (ca.not_valid_after_utc - NOW).days == 3650
    assert (cert.not_valid_after_utc - NOW).days == 1825
    assert ca.not_valid_before_utc == cert.not_valid_before_utc < NOW
