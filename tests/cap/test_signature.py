"""Enveloped XML-Signature verification: real signed samples, own signatures, tampering."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import SignatureConstructionMethod

from alerts.cap import parse
from tests.cap.factories import cap_xml

VERIFIED_SAMPLES = [
    "athoc_cancel_no_info_references_signed.xml",
    "ca_ec_signed_update_en_fr_xmldsig.xml",
    "ca_naad_weather_alert_en_fr_polygon_sorem_signed.xml",
    "ipaws_cancel_no_info_references_signed.xml",
    "ipaws_civil_emergency_wea_cmamlongtext_mp3_derefuri_signed.xml",
    "ipaws_local_area_emergency_polygon_wea_cmamtext_jpeg_signed.xml",
    "ipaws_required_monthly_test_eas_same_mp3_derefuri_signed.xml",
]
NO_KEY_SAMPLES = [
    "ntwc_tsunami_cancellation_update_circle_references_signed.xml",
    "ph_tropical_cyclone_status_test_polygon_signed.xml",
    "usgs_earthquake_circle_iso8859-1_signed_cap12.xml",
]


def _make_cert(common_name: str) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def signer_cert() -> tuple[bytes, bytes]:
    return _make_cert("alerts.example.org")


@pytest.fixture(scope="module")
def other_cert() -> tuple[bytes, bytes]:
    return _make_cert("someone-else.example.org")


def _sign(data: bytes, key_pem: bytes, cert_pem: bytes) -> bytes:
    signer = XMLSigner(method=SignatureConstructionMethod.enveloped)
    signed = signer.sign(etree.fromstring(data), key=key_pem, cert=cert_pem.decode())
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("name", VERIFIED_SAMPLES)
def test_real_signatures_verify_against_embedded_certificate(name: str, sample_bytes) -> None:
    result = parse(sample_bytes(name))
    assert result.ok, result.errors
    assert result.signature.status == "verified"
    assert result.signature.trusted is False
    assert result.signature.signer_subject


@pytest.mark.parametrize("name", NO_KEY_SAMPLES)
def test_signature_without_key_is_unverifiable(name: str, sample_bytes) -> None:
    result = parse(sample_bytes(name))
    assert result.ok
    assert result.signature.status == "unverifiable"
    assert "SIG-NO-KEY" in {i.rule for i in result.warnings}
    required = parse(sample_bytes(name), require_signature=True)
    assert "SIG-REQUIRED" in {i.rule for i in required.errors}


def test_tampered_real_sample_fails_closed(sample_bytes) -> None:
    data = sample_bytes("ipaws_local_area_emergency_polygon_wea_cmamtext_jpeg_signed.xml")
    assert parse(data).ok
    tampered = data.replace(b"<status>Actual</status>", b"<status>Test</status>", 1)
    assert tampered != data
    result = parse(tampered)
    assert result.alert is None
    assert result.signature.status == "invalid"
    assert "SIG-INVALID" in {i.rule for i in result.errors}


_SIGNATURE_VALUE = re.compile(rb"<((?:\w+:)?SignatureValue)(\s[^>]*)?>[^<]*</\1>")


@pytest.mark.parametrize("name", VERIFIED_SAMPLES)
@pytest.mark.parametrize("blank", [b"", b"  \n "])
def test_empty_signature_value_is_invalid_not_a_crash(
    name: str, blank: bytes, sample_bytes
) -> None:
    data = sample_bytes(name)
    emptied, n = _SIGNATURE_VALUE.subn(lambda m: b"<%s>%s</%s>" % (m[1], blank, m[1]), data)
    assert n == data.count(b"SignatureValue>") // 2 and n >= 1
    result = parse(emptied)  # never raises on bad input
    assert result.alert is None
    assert result.signature.status == "invalid"
    assert "SIG-INVALID" in {i.rule for i in result.errors}
    assert "SignatureValue" in (result.signature.detail or "")


def test_tampered_polygon_fails_closed(sample_bytes) -> None:
    data = sample_bytes("ipaws_required_monthly_test_eas_same_mp3_derefuri_signed.xml")
    tampered = data.replace(b"<value>", b"<value>9", 1)
    assert "SIG-INVALID" in {i.rule for i in parse(tampered).errors}


def test_own_signature_verified_and_trusted(signer_cert, other_cert) -> None:
    key_pem, cert_pem = signer_cert
    signed = _sign(cap_xml(), key_pem, cert_pem)
    plain = parse(signed)
    assert plain.ok, plain.errors
    assert plain.signature.status == "verified"
    assert plain.signature.signer_subject == "CN=alerts.example.org"
    trusted = parse(signed, trusted_certs=[cert_pem], require_signature=True)
    assert trusted.ok
    assert trusted.signature.trusted is True
    untrusted = parse(signed, trusted_certs=[other_cert[1]])
    assert "SIG-UNTRUSTED" in {i.rule for i in untrusted.errors}
    assert untrusted.alert is None


def test_own_signature_tampered(signer_cert) -> None:
    key_pem, cert_pem = signer_cert
    signed = _sign(cap_xml(), key_pem, cert_pem)
    tampered = signed.replace(b"Test headline", b"Evacuate now")
    assert "SIG-INVALID" in {i.rule for i in parse(tampered).errors}


def test_signature_by_other_key_with_embedded_cert_swapped(signer_cert, other_cert) -> None:
    key_pem, _ = signer_cert
    signed = _sign(cap_xml(), key_pem, other_cert[1])
    assert "SIG-INVALID" in {i.rule for i in parse(signed).errors}


def test_require_signature_rejects_unsigned() -> None:
    result = parse(cap_xml(), require_signature=True)
    assert [i.rule for i in result.errors] == ["SIG-REQUIRED"]
    assert result.signature.status == "absent"


def test_signature_check_can_be_skipped(sample_bytes) -> None:
    data = sample_bytes("ipaws_cancel_no_info_references_signed.xml")
    assert parse(data, check_signature=False).signature.status == "unchecked"
