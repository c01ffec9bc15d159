"""Delivery as syslog over TCP with TLS (RFC 5424, RFC 6587 octet counting), against Debian's
rsyslog (with rsyslog-gnutls) started by the test with a configuration of its own that writes
every message it receives to a file: every event arrives in order, one message each, and the
lines taken back out of the file verify with ``kansa verify``."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kansa.catalog import Catalog
from kansa.integrity.signing import Signer
from kansa.store import Store
from kansa.streaming import manage
from kansa.streaming.destinations import parse_spec
from kansa.streaming.sealing import Sealer
from kansa.streaming.senders import probed
from kansa.streaming.worker import Deliverer
from tests.helpers import wait_for
from tests.net import free_port
from tests.streaming.conftest import Publish, verified
from tests.streaming.tls import make_certificates

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
CONFIG = """
global(workDirectory="{folder}"
       DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="{ca}"
       DefaultNetstreamDriverCertFile="{cert}"
       DefaultNetstreamDriverKeyFile="{key}"
       maxMessageSize="64k")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" port="{port}" address="127.0.0.1")
template(name="raw" type="string" string="%rawmsg%\\n")
action(type="omfile" file="{folder}/received.log" template="raw")
"""
LINE = re.compile(r"^<(\d+)>1 (\S+) (\S+) kansa - (\S+) \[kansa@32473 ([^\]]*)\] \ufeff(.*)$")


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """rsyslogd listening with TLS on a free port; (port, CA file, the file it writes)."""
    if not Path(RSYSLOGD).exists():
        pytest.fail("rsyslogd is missing: apt-get install rsyslog rsyslog-gnutls")
    folder = tmp_path / "rsyslog"
    folder.mkdir()
    ca, cert, key = make_certificates(folder)
    port = free_port()
    config = folder / "rsyslog.conf"
    config.write_text(CONFIG.format(folder=folder, ca=ca, cert=cert, key=key, port=port))
    log = (folder / "rsyslogd.out").open("wb")
    server = subprocess.Popen(
        [RSYSLOGD, "-n", "-f", str(config), "-i", str(folder / "rsyslogd.pid")],
        stdout=log,
        stderr=log,
    )

    def listening() -> bool:
        import socket

        assert server.poll() is None, (folder / "rsyslogd.out").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    try:
        wait_for(listening, timeout=20, what="rsyslogd")
        yield port, ca, folder / "received.log"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def _received(path: Path) -> list[re.Match[str]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [m for m in (LINE.match(line) for line in lines) if m]


def test_every_event_is_one_message_in_order_and_the_copy_verifies(
    fresh_store: Store,
    fresh_url: str,
    catalog: Catalog,
    signer: Signer,
    publish: Publish,
    rsyslog: tuple[int, Path, Path],
    tmp_path: Path,
) -> None:
    port, ca, received = rsyslog
    publish("acme", 18)
    spec = parse_spec(
        {
            "name": "syslog",
            "kind": "syslog",
            "start": "beginning",
            "config": {
                "host": "127.0.0.1",
                "port": port,
                "ca_pem": ca.read_text(),
                "batch_size": 8,
            },
        }
    )
    made = manage.add(fresh_store, signer, spec, "acme", secret_given=True).destination
    assert probed(made, Sealer(signer)) is None
    deliverer = Deliverer(fresh_store, catalog, signer)
    deliverer.start()
    try:
        publish("acme", 6)  # published while delivery runs
        wait_for(lambda: fresh_store.cursors(made.id)[0].delivered_seq == 24, timeout=30, what="24")
    finally:
        deliverer.stop()
    # each batch is a header line, its events and its manifest; 3 batches or 4, as the last
    # six events came before or after the deliverer read the first eighteen's last two

    def whole() -> bool:
        kinds = [m.group(4) for m in _received(received)]
        return (
            kinds.count("user.create") == 24
            and kinds[-1:] == ["kansa.manifest"]
            and kinds.count("kansa.batch") == kinds.count("kansa.manifest")
        )

    wait_for(whole, timeout=20, what="rsyslog's file")
    messages = _received(received)
    batches = sum(m.group(4) == "kansa.batch" for m in messages)
    assert batches in (3, 4)
    assert len(messages) == 24 + 2 * batches
    events = [m for m in messages if m.group(4) == "user.create"]
    seqs = [int(re.sub(r'.*seq="(\d+)".*', r"\1", m.group(5))) for m in events]
    assert seqs == list(range(1, 25))
    assert all(int(m.group(1)) == 13 * 8 + 6 for m in messages if m.group(4) == "user.create")
    folder = tmp_path / "syslog"
    folder.mkdir()
    document, number = "", 0
    for m in messages:
        document += m.group(6) + "\n"
        if m.group(4) == "kansa.manifest":
            (folder / f"{number}.jsonl").write_text(document, encoding="utf-8")
            document, number = "", number + 1
    assert number == batches
    assert "tenant acme: seq 1-24" in verified(folder, fresh_url)


def test_a_receiver_it_cannot_trust_is_refused(
    fresh_store: Store, signer: Signer, rsyslog: tuple[int, Path, Path], tmp_path: Path
) -> None:
    port, _, _ = rsyslog
    other_ca, _, _ = make_certificates(tmp_path)
    spec = parse_spec(
        {
            "name": "syslog",
            "kind": "syslog",
            "config": {"host": "127.0.0.1", "port": port, "ca_pem": other_ca.read_text()},
        }
    )
    made = manage.add(fresh_store, signer, spec, None, secret_given=True).destination
    assert "CERTIFICATE_VERIFY_FAILED" in (probed(made, Sealer(signer)) or "")
