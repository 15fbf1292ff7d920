"""Serving the sandbox over HTTPS with a self-signed certificate made at start.

simple-salesforce builds ``https://{instance}`` URLs with the scheme hard-coded, so a client
that must run unmodified needs a TLS endpoint. The certificate covers 127.0.0.1, ::1 and
localhost; clients trust it by pointing ``verify`` (requests) at :attr:`cert_path`.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

from sandbox.server import QuietRequestHandler, RunningServer


@dataclass
class Certificate:
    cert_path: str
    key_path: str

    def ssl_context(self) -> ssl.SSLContext:
        """A server-side TLS context using this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_self_signed_certificate(directory: str | None = None) -> Certificate:
    """A fresh key and self-signed certificate for the loopback names, written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Salesforce sandbox")])
    now = datetime.now(UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]), critical=False)
        # Self-signed, so it is its own trust anchor: mark it as a CA that may sign itself.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = directory or tempfile.mkdtemp(prefix="salesforce-sandbox-tls-")
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as out:
        out.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return Certificate(cert_path, key_path)


@dataclass
class RunningTLSServer(RunningServer):
    cert_path: str = ""
    _owned_cert_dir: str | None = None  # made for this server: removed on shutdown

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def shutdown(self) -> None:
        super().shutdown()
        if self._owned_cert_dir:
            shutil.rmtree(self._owned_cert_dir, ignore_errors=True)


def serve_tls_in_thread(app, host: str = "127.0.0.1", port: int = 0,
                        certificate: Certificate | None = None) -> RunningTLSServer:
    """Start ``app`` over HTTPS on ``host:port`` (0 picks a free port) in a daemon thread."""
    owned_dir = None
    if certificate is None:
        certificate = make_self_signed_certificate()
        owned_dir = os.path.dirname(certificate.cert_path)
    server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler,
                         ssl_context=certificate.ssl_context())
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox-tls-{server.port}",
                              daemon=True)
    thread.start()
    return RunningTLSServer(app=app, host=host, port=server.port, _server=server,
                            _thread=thread, cert_path=certificate.cert_path,
                            _owned_cert_dir=owned_dir)
