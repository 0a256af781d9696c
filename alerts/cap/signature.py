"""Enveloped XML-Signature verification (as IPAWS and NAAD sign CAP), fail closed.

Trust decisions, stated plainly:

* With ``trusted_certs`` (PEM): a signature must verify with the key of one of those
  certificates, whose validity period is checked now; the embedded certificate is ignored.
  Result ``trusted=True``.
* Without ``trusted_certs``: the signature is verified with the X.509 certificate the document
  embeds, with no CA chain and no expiry check (anyone can embed a fresh self-signed
  certificate, so checking its dates would add no security; the corpus's real IPAWS/NAAD
  certificates are expired or chain to private CAs). This proves integrity, not authenticity:
  ``trusted=False``. Agencies needing authenticity configure their signer's certificate.
* A signature with no usable key (no ``X509Certificate``, no ``trusted_certs``) cannot be
  checked: status ``unverifiable``, warning ``SIG-NO-KEY``; it counts as unsigned.
* Several enveloped signatures (NAAD countersigns Environment Canada's alerts): each is checked
  with its sibling signatures removed; the alert is ``verified`` when at least one covers it,
  other failures are reported as ``SIG-PARTIAL`` warnings. When none verifies: ``SIG-INVALID``.
* Only an enveloped signature over the whole ``<alert>`` (one reference, ``URI=""``) counts
  (guards against signature wrapping). SHA-1 is accepted (deployed CAP signers still use it).
* signxml's XSD check of ``ds:Signature`` is off: NAAD signs with ``Id="NAADS Signature"``,
  which is not an ``xs:ID``; digests and the signature value are still fully checked.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, XMLVerifier

from alerts.cap.paths import element_path, line_of
from alerts.cap.result import Issue, IssueSeverity, SignatureInfo

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
SIG_TAG = f"{{{DS_NS}}}Signature"
_CONFIG = SignatureConfiguration(
    require_x509=True,
    location="./",
    expect_references=1,
    signature_methods=frozenset(m for m in SignatureMethod if "hmac" not in m.value),
    digest_algorithms=frozenset(DigestAlgorithm),
    ignore_ambiguous_key_info=True,
)
_FAILURES = (
    InvalidInput,
    InvalidSignature,
    InvalidDigest,
    InvalidCertificate,
    ValueError,
    TypeError,  # fail closed: signxml raises it on some malformed signatures
    etree.LxmlError,
)
TrustedCerts = Sequence[str | bytes]
# Agencies sign every alert with the same few certificates: parse each one once per process.
_CERT_CACHE = 256


@dataclass(frozen=True, slots=True)
class _Outcome:
    """The check of one ``ds:Signature`` element."""

    element: etree._Element
    signer: str | None
    error: str | None


def has_signature(root: etree._Element) -> bool:
    """True when the alert carries an enveloped ``ds:Signature`` child."""
    return next(root.iterchildren(SIG_TAG), None) is not None


def verify(
    data: bytes, root: etree._Element, trusted_certs: TrustedCerts | None = None
) -> tuple[SignatureInfo, list[Issue]]:
    """Verify the enveloped signature(s) of ``data`` (whose parsed root is ``root``)."""
    sigs = list(root.iterchildren(SIG_TAG))
    if not sigs:
        return SignatureInfo("absent"), []
    trusted = [_pem(c) for c in trusted_certs] if trusted_certs else None
    if trusted is None and all(_embedded_certificate(s) is None for s in sigs):
        msg = "signature carries no X.509 certificate and no trusted certificate is configured"
        info = SignatureInfo("unverifiable", detail=msg)
        return info, [Issue("SIG-NO-KEY", msg, element_path(sigs[0]), line_of(sigs[0]), "warning")]
    outcomes = [_check_one(data, root, s, len(sigs), trusted) for s in sigs]
    good = [o for o in outcomes if o.error is None]
    bad = [o for o in outcomes if o.error is not None]
    if good:
        info = SignatureInfo("verified", good[0].signer, trusted=trusted is not None)
        return info, [_issue("SIG-PARTIAL", o, "warning") for o in bad]
    info = SignatureInfo("invalid", bad[0].signer, detail=bad[0].error)
    return info, [_issue("SIG-UNTRUSTED" if trusted else "SIG-INVALID", bad[0], "error")]


def _issue(rule: str, outcome: _Outcome, severity: IssueSeverity) -> Issue:
    """An issue for a failed signature check."""
    msg = f"XML signature does not verify: {outcome.error}"
    return Issue(rule, msg, element_path(outcome.element), line_of(outcome.element), severity)


def _check_one(
    data: bytes, root: etree._Element, sig: etree._Element, count: int, trusted: list[str] | None
) -> _Outcome:
    """Check one signature, with sibling signatures removed when there are several."""
    doc = data if count == 1 else _without_siblings(root, sig)
    embedded = _embedded_certificate(sig)
    candidates = trusted if trusted is not None else [embedded] if embedded else []
    error = "no X.509 certificate to verify with"
    value = sig.findtext(f"{{{DS_NS}}}SignatureValue")
    if candidates and not (value or "").strip():
        return _Outcome(sig, _subject(embedded), "the <ds:SignatureValue> is empty")
    for cert in candidates:
        try:
            _verify_with(doc, root.tag, cert, checked_now=trusted is not None)
        except _FAILURES as exc:
            error = f"{type(exc).__name__}: {exc}"
            continue
        return _Outcome(sig, _subject(cert), None)
    return _Outcome(sig, _subject(embedded), error)


def _without_siblings(root: etree._Element, sig: etree._Element) -> bytes:
    """Serialise the alert keeping only ``sig`` among its signatures."""
    keep = root.index(sig)
    clone = copy.deepcopy(root)
    for index, child in reversed(list(enumerate(clone))):
        if child.tag == SIG_TAG and index != keep:
            clone.remove(child)
    return etree.tostring(clone)


def _verify_with(doc: bytes, root_tag: object, cert_pem: str, *, checked_now: bool) -> None:
    """Verify ``doc`` with one certificate or raise."""
    config = _CONFIG if checked_now else replace(_CONFIG, verification_time=_inside(cert_pem))
    result = XMLVerifier().verify(
        doc, x509_cert=cert_pem, expect_config=config, validate_schema=False
    )
    if isinstance(result, list):
        raise InvalidInput("expected exactly one signed reference")
    reference = result.signature_xml.find(f".//{{{DS_NS}}}Reference")
    if reference is None or reference.get("URI") not in ("", None):
        raise InvalidInput("signature does not cover the whole alert (Reference URI != '')")
    if result.signed_xml is None or result.signed_xml.tag != root_tag:
        raise InvalidInput("signed element is not the alert")


@lru_cache(maxsize=_CERT_CACHE)
def _inside(cert_pem: str) -> datetime:
    """A time inside the certificate's validity period (expiry deliberately not enforced)."""
    return x509.load_pem_x509_certificate(cert_pem.encode("ascii")).not_valid_before_utc


def _embedded_certificate(sig: etree._Element) -> str | None:
    """The first X509Certificate in this signature's KeyInfo, as PEM."""
    text = sig.findtext(f".//{{{DS_NS}}}X509Certificate")
    if not text:
        return None
    body = "".join(text.split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _pem(cert: str | bytes) -> str:
    """Normalise a trusted certificate to PEM text."""
    return cert.decode("ascii") if isinstance(cert, bytes) else cert


@lru_cache(maxsize=_CERT_CACHE)
def _subject(cert_pem: str | None) -> str | None:
    """The certificate subject as an RFC 4514 string (None when unreadable)."""
    if not cert_pem:
        return None
    try:
        return x509.load_pem_x509_certificate(cert_pem.encode("ascii")).subject.rfc4514_string()
    except ValueError:
        return None


def unsigned_issue() -> Issue:
    """The issue raised when a signature is required but absent or unverifiable."""
    return Issue("SIG-REQUIRED", "this sender must sign its alerts (no verifiable XML-Signature)")
