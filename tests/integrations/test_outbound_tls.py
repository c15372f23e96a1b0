"""HTTPS through the guard: the connection goes to the checked address, yet the
certificate is still verified against the URL's host name (SNI), so pinning
the address never weakens TLS.
"""

from __future__ import annotations

import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from automation.nodes.base import NodeError
from integrations.http import client as http


def _certificate(tmp_path, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def https_server(tmp_path):
    """An HTTPS server on 127.0.0.1 whose certificate names `localhost`."""
    cert_path, key_path = _certificate(tmp_path, "localhost")
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append({"host": self.headers["Host"], "sni": self.connection.server_hostname})
            body = b'{"secure": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)

    def remember_sni(sock, server_name, _context):
        sock.server_hostname = server_name

    context.sni_callback = remember_sni
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.seen = seen
    server.cert_path = cert_path
    yield server
    server.shutdown()
    server.server_close()


def test_https_to_a_pinned_address_verifies_the_host_name(settings, https_server):
    settings.OUTBOUND_ALLOWLIST = ["localhost"]
    settings.OUTBOUND_CA_BUNDLE = str(https_server.cert_path)
    port = https_server.server_port

    response = http.request("GET", f"https://localhost:{port}/hello")

    assert response.status == 200
    assert response.body == {"secure": True}
    assert https_server.seen[0]["host"] == f"localhost:{port}"
    assert https_server.seen[0]["sni"] == "localhost"


def test_a_certificate_for_another_name_is_refused(settings, https_server, tmp_path):
    # Connecting by the literal address: the certificate names localhost, not 127.0.0.1.
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    settings.OUTBOUND_CA_BUNDLE = str(https_server.cert_path)
    with pytest.raises(NodeError, match=r"(?i)certificate"):
        http.request("GET", f"https://127.0.0.1:{https_server.server_port}/hello")


def test_an_untrusted_certificate_is_refused(settings, https_server):
    settings.OUTBOUND_ALLOWLIST = ["localhost"]
    settings.OUTBOUND_CA_BUNDLE = ""  # the default bundle does not know this self-signed CA
    with pytest.raises(NodeError, match=r"(?i)certificate"):
        http.request("GET", f"https://localhost:{https_server.server_port}/hello")
