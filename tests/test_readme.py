"""The README's tour runs as written: ``make run``'s steps (read from the Makefile) on a
temporary SQLite database and port, then every ``sh`` block of the tour, in order, in one
shell — ``.venv/bin/kansa`` and ``kansa`` are this checkout's, ``127.0.0.1:8000`` the
temporary server. Each block must exit 0 (1 where its shown output says ``BROKEN``), print
the first word of each output line the README shows after it (``# ok …``), and the start of
the JSON reply shown after it (``{"accepted":1``); a problem reply (4xx, 5xx) only where the
README shows one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.served import serve

BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass
class Block:
    script: str
    expected: list[str] = field(default_factory=list)
    """Texts the block's output must hold."""

    @property
    def broken(self) -> bool:
        """Whether the README shows this block finding a problem (exit 1)."""
        return any(e.startswith("BROKEN") for e in self.expected)


def tour(readme: str) -> list[Block]:
    """The ``sh`` blocks between ``## A tour`` and the next ``## `` heading, each with what
    the README shows it printing."""
    start = readme.index("## A tour")
    section = readme[start : readme.index("\n## ", start + 1)]
    blocks: list[Block] = []
    for kind, body in FENCE.findall(section):
        if kind == "sh":
            lines = body.splitlines()
            shown = [ln[2:].split()[0] for ln in lines if ln.startswith("# ") and ln[2:].strip()]
            commands = [ln for ln in lines if not ln.startswith("#")]
            blocks.append(Block("\n".join(commands), shown))
        elif kind == "json" and blocks:
            blocks[-1].expected.append(body.split(",")[0].strip())
    return blocks


def make_run_steps(makefile: str) -> list[str]:
    """The recipe of ``make run``, one command a line."""
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in recipe.splitlines()[1:] if line.startswith("\t")]


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A directory with ``.venv/bin`` standing for this checkout's virtual environment."""
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(BIN)
    yield tmp_path


@pytest.mark.slow
def test_the_readme_tour_runs_as_written(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = tour((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 5 and any("apikey create" in b.script for b in blocks)
    db = f"sqlite:///{workdir / 'kansa.db'}"
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "KANSA_DATABASE_URL": db,
        "KANSA_SIGNING_KEY_FILE": str(workdir / "kansa-signing.key"),
    }
    monkeypatch.setenv("KANSA_SIGNING_KEY_FILE", env["KANSA_SIGNING_KEY_FILE"])
    steps = make_run_steps((ROOT / "Makefile").read_text(encoding="utf-8"))
    assert [s.split()[1] for s in steps] == ["init", "demo", "serve"]
    for step in steps[:-1]:  # init and demo; serve is started below, on a free port
        command = step.replace("$(BIN)", str(BIN)).replace("$(DB)", db)
        done = subprocess.run(command, shell=True, env=env, cwd=workdir, check=False,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, (command, done.stderr)
    with serve(db, workdir, {"KANSA_SIGNING_KEY_FILE": env["KANSA_SIGNING_KEY_FILE"]}) as server:
        here = f"127.0.0.1:{server.port}"
        script = "exec 2>&1\n" + "\n".join(
            f"echo '@@block'\n{{\n{b.script.replace('127.0.0.1:8000', here)}\n}}\n"
            'echo "@@exit $?"'
            for b in blocks
        )
        ran = subprocess.run(["bash", "-c", script], env=env, cwd=workdir, check=False,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    outputs = ran.stdout.split("@@block\n")[1:]
    assert len(outputs) == len(blocks), ran.stdout
    for block, output in zip(blocks, outputs, strict=True):
        status = int(output.rsplit("@@exit ", 1)[1])
        assert status == (1 if block.broken else 0), (block.script, output)
        refused = re.findall(r'"status":\s*[45]\d\d', output)  # a curl's problem reply
        assert all(any(r in e for e in block.expected) for r in refused), (block.script, output)
        for expected in block.expected:
            assert expected in output, (block.script, expected, output)
