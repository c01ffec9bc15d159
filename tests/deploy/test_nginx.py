"""deploy/nginx.conf in front of a real ``kansa serve``, on loopback ports, with a certificate
made here: publish and search through TLS; the client's address (X-Forwarded-For, believed
because nginx is a trusted proxy) reaches kansa's request log, and the console's cookies are
Secure because nginx says the request came over HTTPS."""

from __future__ import annotations

import ipaddress
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kansa.store import open_store
from tests.helpers import new_key, pca_event
from tests.net import free_port
from tests.served import Served, serve

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def certificate(where: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = where / "cert.pem", where / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def nginx_config(where: Path, kansa_port: int, http_port: int, https_port: int) -> Path:
    """deploy/nginx.conf with this test's ports and files, inside a main configuration that
    runs in the foreground as one process and writes only under ``where``."""
    cert, key = certificate(where)
    site = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    site = site.replace("127.0.0.1:8000", f"127.0.0.1:{kansa_port}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    site = site.replace("/etc/ssl/kansa/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/kansa/privkey.pem", str(key))
    assert str(cert) in site and f":{https_port} ssl" in site and f":{kansa_port};" in site
    temp = "".join(
        f"{kind}_temp_path {where / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = f"""
daemon off;
master_process off;
pid {where / "nginx.pid"};
error_log {where / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {where / "access.log"};
    {temp}
    {site}
}}
"""
    path = where / "nginx.conf"
    path.write_text(main, encoding="utf-8")
    return path


@pytest.fixture
def proxied(
    store_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Served, str, Path, str]]:
    if not Path(NGINX).exists():
        pytest.skip("nginx NOT TESTED: nginx is not installed (.ci/run installs it)")
    from tests import pg

    with pg.fresh_database(store_url, request, tmp_path, "nginx") as url:
        store = open_store(url)
        key = new_key(store)
        store.close()
        with serve(url, tmp_path, {"KANSA_TRUSTED_PROXIES": "127.0.0.1"}) as served:
            http_port, https_port = free_port(), free_port()
            config = nginx_config(tmp_path, served.port, http_port, https_port)
            check = subprocess.run([NGINX, "-t", "-c", str(config)], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
            proxy = subprocess.Popen([NGINX, "-c", str(config)], stderr=subprocess.DEVNULL)
            try:
                _wait_for(https_port, tmp_path / "cert.pem")
                yield served, f"https://127.0.0.1:{https_port}", tmp_path / "cert.pem", key
            finally:
                proxy.terminate()
                proxy.wait(timeout=10)


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def _wait_for(port: int, cert: Path) -> None:
    for _ in range(100):
        try:
            httpx.get(f"https://127.0.0.1:{port}/healthz", verify=trusting(cert), timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("nginx did not come up")


def test_publish_and_search_through_nginx(proxied: tuple[Served, str, Path, str]) -> None:
    served, base, cert, key = proxied
    auth = {"Authorization": f"Bearer {key}"}
    transport = httpx.HTTPTransport(verify=trusting(cert), local_address="127.0.0.3")
    with httpx.Client(base_url=base, transport=transport, timeout=10) as http:
        published = http.post("/api/v1/events", json=pca_event("org-nginx", 7), headers=auth)
        assert published.status_code == 201, published.text
        found = http.get("/api/v1/events", params={"tenant": "org-nginx"}, headers=auth)
        assert found.status_code == 200 and len(found.json()["events"]) == 1
        signin = http.get("/console/signin")
        assert "secure" in signin.headers["set-cookie"].lower()
        request_id = published.headers["x-request-id"]
    direct = httpx.get(f"{served.base}/console/signin", timeout=5)
    assert "secure" not in direct.headers["set-cookie"].lower()
    lines = [
        orjson.loads(line)
        for line in served.stderr.read_bytes().splitlines()
        if line.startswith(b"{") and b'"kansa.request"' in line
    ]
    publish = [line for line in lines if line["request_id"] == request_id]
    assert len(publish) == 1 and publish[0]["route"] == "/api/v1/events"
    assert publish[0]["client"] == "127.0.0.3", "X-Forwarded-For from the trusted nginx"
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), "nginx's $request_id, passed on"


def test_metrics_are_not_behind_the_proxy(proxied: tuple[Served, str, Path, str]) -> None:
    _, base, cert, _ = proxied
    assert httpx.get(f"{base}/metrics", verify=trusting(cert), timeout=5).status_code == 404
