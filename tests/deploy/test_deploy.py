"""The deployment kit in deploy/: the systemd unit passes ``systemd-analyze verify`` and keeps
its hardening; the Dockerfile and the compose file are checked by structure (hadolint is not
in Debian, and no container engine runs here, so neither is built or run: see
docs/operations.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KANSA = str(Path(sys.executable).parent / "kansa")


def unit() -> str:
    return (DEPLOY / "kansa.service").read_text(encoding="utf-8")


def test_the_unit_verifies(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip(
            "systemd unit NOT VERIFIED: systemd-analyze is missing (.ci/run installs systemd)"
        )
    copy = tmp_path / "kansa.service"
    copy.write_text(unit().replace("/opt/kansa/bin/kansa", KANSA), encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in done.stderr.splitlines() if "kansa.service" in line]
    assert done.returncode == 0 and complaints == [], done.stderr


def test_the_unit_is_hardened() -> None:
    text = unit()
    for line in (
        "User=kansa",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "ReadWritePaths=/var/lib/kansa",
        "EnvironmentFile=/etc/kansa/kansa.env",
        "CapabilityBoundingSet=",
    ):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    assert not re.search(r"^Environment=.*(SECRET|PASSWORD|SIGNING_KEY=)", text, re.M)


def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text(encoding="utf-8")


def stages(text: str) -> list[str]:
    """The Dockerfile's instructions (continuation lines joined), split into stages."""
    joined = re.sub(r"\\\n", " ", text)
    lines = [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    found: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            found.append([])
        found[-1].append(line)
    return ["\n".join(stage) for stage in found]


def test_the_image_is_multi_stage_and_runs_as_no_root() -> None:
    built = stages(dockerfile())
    assert len(built) >= 2
    final = built[-1]
    assert "COPY --from=build" in final and "pip install" not in final
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_the_image_checks_readiness() -> None:
    final = stages(dockerfile())[-1]
    assert re.search(r"^HEALTHCHECK .*/readyz", final, re.M)


def test_no_secret_is_baked_into_the_image() -> None:
    text = dockerfile()
    settings = re.findall(r"^(?:ENV|ARG)\s+(.*)$", re.sub(r"\\\n", " ", text), re.M)
    assert not [s for s in settings if re.search(r"SECRET|PASSWORD|SIGNING_KEY|DATABASE_URL", s)]
    copied = re.findall(r"^COPY\s+(.*)$", text, re.M)
    assert not [c for c in copied if re.search(r"\.env|\.key|\.pem|\.db", c)]


def test_compose_runs_read_only_with_postgresql() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert "image: postgres:" in text and "read_only: true" in text
    assert "env_file: kansa.env" in text and "cap_drop: [ALL]" in text
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD" in text  # from the environment, not here
    assert not re.search(r"postgresql://\w+:(?!<password>)[^@\s]+@", text)
