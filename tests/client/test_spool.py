"""The spool on its own: what is committed stays across reopening, the lock keeps a second
client out (and is freed when its holder dies), rejected events keep the server's answer."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from kansa.client import SpoolBusy, SpoolExposed, default_spool_path
from kansa.client.spool import Spool


def test_what_was_added_is_there_after_reopening_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.add([(f"e-{n}", orjson.dumps({"id": f"e-{n}"})) for n in range(5)])
    spool.close()
    again = Spool(tmp_path / "s.db")
    assert again.pending == 5
    taken = again.take(3)
    assert [e.id for e in taken] == ["e-0", "e-1", "e-2"]
    assert [e.attempts for e in taken] == [0, 0, 0]
    assert [e.attempts for e in again.take(3)] == [1, 1, 1]
    again.remove(taken[:2])
    assert again.pending == 3 and [e.id for e in again.take(10)] == ["e-2", "e-3", "e-4"]
    again.close()


def test_a_rejected_event_keeps_the_servers_answer_and_can_go_back_in_line(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.add([("bad", b'{"id":"bad"}'), ("good", b'{"id":"good"}')])
    (bad,) = spool.take(1)
    spool.reject([bad], 422, "invalid", [{"path": "events[0].action", "message": "unknown"}])
    assert (spool.pending, spool.rejected_count) == (1, 1)
    (rejected,) = spool.rejected()
    assert (rejected.id, rejected.status, rejected.event) == ("bad", 422, {"id": "bad"})
    assert rejected.problems == [{"path": "events[0].action", "message": "unknown"}]
    assert spool.requeue_rejected() == 1
    assert [e.id for e in spool.take(5)] == ["bad", "good"]
    assert (spool.pending, spool.rejected_count) == (2, 0)
    spool.close()


def test_one_holder_at_a_time_and_a_dead_holder_frees_the_spool(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    held = Spool(path)
    with pytest.raises(SpoolBusy):
        Spool(path)
    held.close()
    script = (
        f"from kansa.client.spool import Spool; held = Spool({str(path)!r}); import sys;"
        " sys.stdout.write('held\\n'); sys.stdout.flush(); sys.stdin.read()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(SpoolBusy):
            Spool(path)
        holder.kill()  # SIGKILL: no chance to let go; the kernel drops the lock
        holder.wait(10)
    Spool(path).close()


def test_the_default_spool_lives_in_the_users_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = default_spool_path("https://kansa.example.jp/")
    assert path.parent == tmp_path / "kansa" and path.name.startswith("spool-")
    assert path == default_spool_path("https://kansa.example.jp")
    assert path != default_spool_path("https://other.example.jp")


def test_a_closed_client_says_so_instead_of_touching_its_spool(tmp_path: Path) -> None:
    from kansa.client import Client, ClientClosed

    client = Client("http://127.0.0.1:9", "key", spool_path=tmp_path / "spool.db")
    client.close(timeout=1)
    for call in (client.rejected, client.requeue_rejected, lambda: client.publish({})):
        with pytest.raises(ClientClosed):
            call()


def test_the_spool_is_its_owners_alone_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    old = os.umask(0o002)
    try:
        spool = Spool(path)
        spool.add([("e-1", b'{"id":"e-1"}')])
        spool.close()
    finally:
        os.umask(old)
    made = [p for p in tmp_path.iterdir() if p.name.startswith("s.db")]
    assert {p.name for p in made} >= {"s.db", "s.db.lock"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in made} == {p.name: 0o600 for p in made}


@pytest.mark.parametrize("suffix", ["", ".lock"])
def test_a_spool_others_may_read_is_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "s.db"
    Spool(path).close()
    (tmp_path / f"s.db{suffix}").chmod(0o644)
    with pytest.raises(SpoolExposed, match=rf"s\.db{re.escape(suffix)} may be read by others"):
        Spool(path)
