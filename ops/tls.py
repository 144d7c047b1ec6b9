"""Throwaway credentials for the local object store (ops/gcs.py): a CA and a certificate for the two
Google storage hosts (TensorFlow's gs:// client trusts them through CURL_CA_BUNDLE, in the processes we
start and nowhere else: never the system's CA store), and a service-account key whose token_uri is local.
"""
from __future__ import annotations

import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: str, data: bytes) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(data)


def _key_pem(key) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def make_tls(folder: str, hosts: tuple[str, ...], days: int = 30) -> dict:
    """ca.pem, front.pem and front-key.pem in folder (made once); return their paths."""
    paths = {n: os.path.join(folder, f) for n, f in (("ca", "ca.pem"), ("cert", "front.pem"), ("key", "front-key.pem"))}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    os.makedirs(folder, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("pipeline local object store CA")).issuer_name(
        _name("pipeline local object store CA")).public_key(ca_key.public_key()).serial_number(
        x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(paths["key"], _key_pem(key))
    _write(paths["cert"], cert.public_bytes(PEM))
    _write(paths["ca"], ca.public_bytes(PEM))   # the CA's key is not kept: nothing else can be signed
    return paths


def make_service_account(path: str, token_uri: str, project: str) -> str:
    """A service-account JSON with a fresh RSA key (kept across calls) and the given token_uri."""
    key_pem = None
    if os.path.exists(path):
        with open(path) as f:
            key_pem = json.load(f)["private_key"]
    if key_pem is None:
        key_pem = _key_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)).decode()
    info = {"type": "service_account", "project_id": project, "private_key_id": "local",
            "private_key": key_pem, "client_email": f"pipeline@{project}.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": token_uri}
    _write(path, json.dumps(info, indent=1).encode())
    return path
