"""The office's document-signing identity (X.509, ECDSA P-256) and PAdES signing.

On first use a local CA and a signing certificate (key usage digitalSignature +
nonRepudiation) are created under ``<key dir>/publicity`` (directory 0700, files 0600),
unless configured files are given: ``[publicity] signing_cert`` + ``signing_key`` (PEM)
or ``signing_p12`` (+ ``signing_p12_password_file``).  Private keys are never logged.

``signing_key = "pkcs11:token=...;object=..."`` keeps the key inside a PKCS#11 token
(``[pkcs11]``): on first use a P-256 key pair is generated there, and its certificate is
issued by the local CA (or read from ``signing_cert``); pyHanko's ``PKCS11Signer`` signs
in the token, so the key never leaves it.
"""

from __future__ import annotations

import html
import io
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ledger.config import PublicitySettings
from ledger.errors import CouldNotCheck, NotAllowed
from ledger.hsm import Hsm, Token
from ledger.pkcs11uri import Pkcs11Uri, is_pkcs11

SUBDIR = "publicity"
CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SIGNING_CERT = "signing.pem"
SIGNING_KEY = "signing-key.pem"
#: The visible signature box on the cover page (PDF points: x1, y1, x2, y2; A4 portrait).
SIGNATURE_BOX = (330, 36, 560, 112)
SIGNATURE_FIELD = "ArchiveSignature"


@dataclass(frozen=True)
class SigningIdentity:
    """A signing key, its certificate and the chain up to (and including) its root.

    ``key`` is None when the key is in a token: ``token`` and ``key_uri`` name it.
    """

    key: ec.EllipticCurvePrivateKey | None
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # issuers, root last
    token: Token | None = None
    key_uri: Pkcs11Uri | None = None

    @property
    def root(self) -> x509.Certificate:
        return self.chain[-1] if self.chain else self.cert


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & 0o077:
        raise NotAllowed(f"{path} is readable by others (mode {mode & 0o777:o}); "
                         f"run `chmod 600 {path}` and try again")


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common: str, org: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


#: Every flag of an X.509 key usage (RFC 5280 §4.2.1.3), in ``x509.KeyUsage``'s order.
_KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment",
               "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
               "encipher_only", "decipher_only")


def _usage(*allowed: str) -> x509.KeyUsage:
    """The key usage that allows ``allowed`` and nothing else."""
    return x509.KeyUsage(**{flag: flag in allowed for flag in _KEY_USAGES})


def _certificate(subject: x509.Name, key: ec.EllipticCurvePublicKey, issuer: x509.Name,
                 issuer_key: ec.EllipticCurvePrivateKey, start: datetime, end: datetime,
                 usage: x509.KeyUsage, *, ca: bool) -> x509.Certificate:
    """``subject``'s certificate for ``key``, signed by ``issuer_key`` (the subject's own
    key for a self-signed CA): a CA of path length 0, or an end entity that names the
    issuer's key (authority key identifier)."""
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None),
                              critical=True)
               .add_extension(usage, critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key),
                              critical=False))
    if not ca:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def create_identity(folder: Path, organisation: str, now: datetime) -> SigningIdentity:
    """Create a local CA and a document-signing certificate in ``folder`` (0700/0600).

    Raises:
        CouldNotCheck: a file could not be written (or already exists).
    """
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{organisation} archive CA", organisation)
    start = now - timedelta(minutes=5)
    ca = _certificate(ca_name, ca_key.public_key(), ca_name, ca_key, start,
                      now + timedelta(days=3650), _usage("key_cert_sign", "crl_sign"), ca=True)
    cert = _document_cert(organisation, key.public_key(), ca, ca_key, now)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        _write_private(folder / CA_KEY, _pem_key(ca_key))
        _write_private(folder / CA_CERT, ca.public_bytes(serialization.Encoding.PEM))
        _write_private(folder / SIGNING_KEY, _pem_key(key))
        _write_private(folder / SIGNING_CERT, cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise CouldNotCheck(f"cannot write the document-signing files in {folder}: {exc}"
                            ) from exc
    return SigningIdentity(key, cert, (ca,))


def _document_cert(organisation: str, public: ec.EllipticCurvePublicKey, ca: x509.Certificate,
                   ca_key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    """The document-signing certificate of ``public``, issued by the local CA (5 years)."""
    return _certificate(_name(f"{organisation} document signing", organisation), public,
                        ca.subject, ca_key, now - timedelta(minutes=5),
                        now + timedelta(days=1825),
                        _usage("digital_signature", "content_commitment"), ca=False)


def _local_ca(folder: Path, organisation: str, now: datetime
              ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The local CA under ``folder`` (created, 0700/0600, if absent).

    Raises:
        NotAllowed: its key file is readable by others.
        CouldNotCheck: the files cannot be read or written.
    """
    try:
        if (folder / CA_CERT).exists():
            _check_private(folder / CA_KEY)
            key = _as_ec(serialization.load_pem_private_key(
                (folder / CA_KEY).read_bytes(), None), folder / CA_KEY)
            return x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes()), key
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name(f"{organisation} archive CA", organisation)
        ca = _certificate(ca_name, ca_key.public_key(), ca_name, ca_key,
                          now - timedelta(minutes=5), now + timedelta(days=3650),
                          _usage("key_cert_sign", "crl_sign"), ca=True)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        _write_private(folder / CA_KEY, _pem_key(ca_key))
        _write_private(folder / CA_CERT, ca.public_bytes(serialization.Encoding.PEM))
        return ca, ca_key
    except (OSError, ValueError) as exc:
        raise CouldNotCheck(f"cannot read or write the local CA in {folder}: {exc}") from exc


def _token_identity(key_dir: Path, cfg: PublicitySettings, organisation: str, now: datetime,
                    tokens: Hsm | None) -> SigningIdentity:
    """The identity whose key is the token object ``cfg.signing_key`` names (made there,
    with a certificate from the local CA, on first use).

    Raises:
        BadData: a malformed URI.
        NotAllowed: no ``[pkcs11]``, the PIN is refused, a CA key file is readable.
        CouldNotCheck: the token, object or files cannot be used; the certificate is not
            of the token's key.
    """
    uri = Pkcs11Uri.parse(cfg.signing_key or "", field="publicity.signing_key")
    if tokens is None:
        raise NotAllowed(f"publicity.signing_key {uri} is in a PKCS#11 token but the "
                         "config has no [pkcs11] table: set module and pin_file or pin_env")
    token = tokens.token(uri.token)
    folder = key_dir / SUBDIR
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", uri.object or (uri.id or b"").hex())
    cert_path = (Path(cfg.signing_cert) if cfg.signing_cert
                 else folder / f"token-{stem}.pem")
    if cert_path.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            chain = [c for f in (cfg.signing_chain or (str(folder / CA_CERT),))
                     for c in x509.load_pem_x509_certificates(Path(f).read_bytes())]
        except (OSError, ValueError) as exc:
            raise CouldNotCheck(f"cannot load the document-signing certificate: {exc}"
                                ) from exc
        point = token.ec_public_point(uri)
        if cert.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint
                                          ) != point:
            raise CouldNotCheck(f"{cert_path} is not the certificate of the token key {uri}")
        return SigningIdentity(None, cert, tuple(chain), token, uri)
    ca, ca_key = _local_ca(folder, organisation, now)
    point = token.create_ec_p256(uri)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    cert = _document_cert(organisation, public, ca, ca_key, now)
    try:
        cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise CouldNotCheck(f"cannot write {cert_path}: {exc}") from exc
    return SigningIdentity(None, cert, (ca,), token, uri)


def _as_ec(key: Any, where: Path) -> ec.EllipticCurvePrivateKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CouldNotCheck(f"{where}: the document-signing key must be an ECDSA key")
    return key


def _load_pem(cert_file: Path, key_file: Path, chain_files: list[Path]) -> SigningIdentity:
    _check_private(key_file)
    try:
        key = _as_ec(serialization.load_pem_private_key(key_file.read_bytes(), None), key_file)
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        chain = [c for f in chain_files for c in x509.load_pem_x509_certificates(f.read_bytes())]
    except (OSError, ValueError) as exc:
        raise CouldNotCheck(f"cannot load the document-signing certificate/key: {exc}"
                            ) from exc
    return SigningIdentity(key, cert, tuple(chain))


def load_or_create_identity(key_dir: Path, cfg: PublicitySettings, organisation: str,
                            now: datetime, tokens: Hsm | None = None) -> SigningIdentity:
    """The configured identity, or the one under ``key_dir/publicity`` (created if absent).

    ``cfg`` is ``[publicity]``: ``signing_cert`` + ``signing_key`` (PEM, with optional
    ``signing_chain``), ``signing_p12`` + ``signing_p12_password_file``, or
    ``signing_key = "pkcs11:..."`` (a key in one of ``tokens``).

    Raises:
        BadData: a malformed ``pkcs11:`` URI.
        NotAllowed: a private key file is readable by others; the PIN is refused.
        CouldNotCheck: the files or the token cannot be read or written.
    """
    if cfg.signing_key and is_pkcs11(cfg.signing_key):
        return _token_identity(key_dir, cfg, organisation, now, tokens)
    p12 = cfg.signing_p12
    if p12:
        p12_path = Path(p12)
        _check_private(p12_path)
        pw_file = cfg.signing_p12_password_file
        password = None
        if pw_file:
            _check_private(Path(pw_file))
            password = Path(pw_file).read_bytes().strip()
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(p12_path.read_bytes(), password)
        except (OSError, ValueError) as exc:
            raise CouldNotCheck(f"cannot load {p12_path}: {exc}") from exc
        if cert is None:
            raise CouldNotCheck(f"{p12_path} holds no certificate")
        return SigningIdentity(_as_ec(key, p12_path), cert, tuple(extra))
    if cfg.signing_cert and cfg.signing_key:
        return _load_pem(Path(cfg.signing_cert), Path(cfg.signing_key),
                         [Path(c) for c in cfg.signing_chain])
    folder = key_dir / SUBDIR
    if (folder / SIGNING_CERT).exists():
        return _load_pem(folder / SIGNING_CERT, folder / SIGNING_KEY, [folder / CA_CERT])
    return create_identity(folder, organisation, now)


# -- pyHanko ---------------------------------------------------------------------------

def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def sign_pdf(pdf: bytes, identity: SigningIdentity, *, reason: str, location: str,
             name: str) -> bytes:
    """PAdES-sign ``pdf`` (an incremental update) with a visible block on page 1; a token
    key signs inside its token (the session held for the whole signature).

    Raises:
        CouldNotCheck: the token refused to sign (pyHanko's error is kept as the cause).
    """
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    if identity.token is not None and identity.key_uri is not None:
        with identity.token.session() as session:
            try:
                return _sign(pdf, identity, _token_signer(session, identity), reason=reason,
                             location=location, name=name)
            except Exception as exc:  # pyHanko wraps the token's errors in several types
                if isinstance(exc, CouldNotCheck):
                    raise
                raise CouldNotCheck(f"the token key {identity.key_uri} did not sign the "
                                    f"report: {type(exc).__name__}") from exc
    assert identity.key is not None
    key_der = identity.key.private_bytes(serialization.Encoding.DER,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
    signer = signers.SimpleSigner(
        signing_cert=_asn1_cert(identity.cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [_asn1_cert(c) for c in identity.chain]))
    return _sign(pdf, identity, signer, reason=reason, location=location, name=name)


def _token_signer(session: Any, identity: SigningIdentity) -> Any:
    """pyHanko's PKCS#11 signer on the token key (CKM_ECDSA over the SHA-256 digest)."""
    from pyhanko.sign.pkcs11 import PKCS11Signer

    uri = identity.key_uri
    assert uri is not None
    return PKCS11Signer(session, key_label=uri.object, key_id=uri.id,
                        signing_cert=_asn1_cert(identity.cert),
                        ca_chain=[_asn1_cert(c) for c in identity.chain],
                        other_certs_to_pull=None, use_raw_mechanism=True)


def _sign(pdf: bytes, identity: SigningIdentity, signer: Any, *, reason: str, location: str,
          name: str) -> bytes:
    from pyhanko import stamp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    fields.append_signature_field(writer, fields.SigFieldSpec(
        SIGNATURE_FIELD, on_page=0, box=SIGNATURE_BOX))
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256", reason=reason, location=location, name=name)
    _PdfA3Signer = _pdfa3_signer_class()  # noqa: N806
    with tempfile.TemporaryDirectory() as tmp:
        stamp_pdf = Path(tmp) / "stamp.pdf"
        stamp_pdf.write_bytes(render_stamp(identity, reason, datetime.now(UTC)))
        style = stamp.StaticStampStyle.from_pdf_file(str(stamp_pdf), border_width=0)
        out = io.BytesIO()
        _PdfA3Signer(meta, signer=signer, stamp_style=style).sign_pdf(writer, output=out)
    return out.getvalue()


def _pdfa3_signer_class() -> Any:
    from pyhanko.sign import signers
    from pyhanko.sign.signers import constants

    class PdfA3Signer(signers.PdfSigner):
        """PAdES with the ESIC extension only: PDF/A-3 is PDF 1.7.

        pyHanko would declare ISO 32002 for ECDSA P-256 and so raise the catalog's
        /Version to 2.0, which a PDF/A-3 file must not do.  ECDSA in a CAdES signature
        is valid PAdES in PDF 1.7 (ETSI EN 319 142-1).
        """

        def register_extensions(self, pdf_out: Any, *, md_algorithm: str) -> None:
            pdf_out.ensure_output_version(version=(1, 7))
            pdf_out.register_extension(constants.ESIC_EXTENSION_1)

    return PdfA3Signer


def render_stamp(identity: SigningIdentity, reason: str, when: datetime) -> bytes:
    """The visible signature block as a one-page PDF (WeasyPrint: Noto CJK, embedded).

    pyHanko's own text stamps need uharfbuzz for an embedded font and would otherwise use
    a non-embedded standard font, which PDF/A forbids; an imported page avoids both.
    """
    import weasyprint  # type: ignore[import-untyped]

    x1, y1, x2, y2 = SIGNATURE_BOX
    cn = identity.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    who = str(cn[0].value) if cn else identity.cert.subject.rfc4514_string()
    fp = identity.cert.fingerprint(hashes.SHA256()).hex()[:32]
    doc = f"""<html><head><style>
@page {{ size: {x2 - x1}pt {y2 - y1}pt; margin: 0; }}
body {{ margin: 0; font: 6.5pt "Noto Sans CJK SC"; }}
div {{ border: 0.8pt solid #1a3d7c; height: {y2 - y1 - 8}pt; padding: 3pt; color: #1a3d7c; }}
b {{ font-size: 8pt; }}
</style></head><body><div><b>电子签章 Digitally signed (PAdES)</b><br>
{html.escape(who)}<br>{when.strftime("%Y-%m-%d %H:%M:%S")} UTC<br>
{html.escape(reason)}<br>cert SHA-256 {fp}…</div></body></html>"""
    out = weasyprint.HTML(string=doc).write_pdf()
    assert isinstance(out, bytes)
    return out


@dataclass(frozen=True)
class SignatureCheck:
    """What pyHanko found about a PDF's signature."""

    intact: bool
    valid: bool
    trusted: bool
    entire_file: bool
    signer: str
    chain: tuple[str, ...]
    summary: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.entire_file


def check_signature(pdf: bytes, trust_roots: list[x509.Certificate]) -> SignatureCheck | None:
    """Validate the last signature of ``pdf`` (None if unsigned).

    Raises:
        CouldNotCheck: the PDF cannot be parsed.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
    except Exception as exc:  # pyHanko raises several types on malformed files
        raise CouldNotCheck(f"cannot parse the PDF: {exc}") from exc
    if not sigs:
        return None
    sig = sigs[-1]
    vc = ValidationContext(trust_roots=[_asn1_cert(c) for c in trust_roots],
                           allow_fetching=False)
    try:
        status = validate_pdf_signature(sig, vc)
    except Exception as exc:  # a mangled CMS blob, a broken byte range
        return SignatureCheck(False, False, False, False, "?", (), f"invalid: {exc}")
    chain: tuple[str, ...] = ()
    try:
        path = status.validation_path
        if path is not None:
            chain = tuple(c.subject.human_friendly for c in path)
    except AttributeError:
        pass
    return SignatureCheck(
        intact=bool(status.intact), valid=bool(status.valid), trusted=bool(status.trusted),
        entire_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        signer=status.signing_cert.subject.human_friendly,
        chain=chain, summary=status.summary())
