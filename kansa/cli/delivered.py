"""``kansa verify FOLDER``: what a receiver of streamed batches kept (webhook bodies, S3
objects, JetStream messages as files), proved gap-free, in order and untampered."""

from __future__ import annotations

import gzip
from pathlib import Path

import typer

from kansa.cli.common import fail
from kansa.errors import ConfigError, InvalidInput, Problem
from kansa.integrity.signing import PublicKey
from kansa.streaming.proof import Delivered, prove, read_batch

SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")


def _lines(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return data.splitlines()


def verify_folder(folder: Path, keys: list[PublicKey]) -> None:
    """Every batch file under ``folder``, checked with whichever of ``keys`` signed it."""
    if not keys:
        raise InvalidInput([Problem("--key", "checking delivered batches needs the public key")])
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
    if not files:
        raise InvalidInput([Problem("FILE", f"no .jsonl or .jsonl.gz files in {folder}")])
    batches: list[Delivered] = []
    problems: list[str] = []
    for path in files:
        lines = _lines(path)
        found: Delivered | str = "no key given"
        for key in keys:
            found = read_batch(str(path.relative_to(folder)), lines, key)
            if isinstance(found, Delivered):
                break
        if isinstance(found, Delivered):
            batches.append(found)
        else:
            problems.append(found)
    report = prove(batches)
    for tenant in report.tenants:
        note = ", filtered: gaps cannot be told from events left out" if tenant.filtered else ""
        typer.echo(
            f"ok     tenant {tenant.tenant}: seq {tenant.first_seq}-{tenant.last_seq}, "
            f"{tenant.events} events in {tenant.batches} batches"
            f" ({tenant.duplicates} sent again){note}"
        )
    for problem in [*problems, *report.problems]:
        typer.echo(f"BROKEN {problem}", err=True)
    if problems or not report.intact:
        raise fail(f"{len(problems) + len(report.problems)} problem(s) in {folder}", 1)
    typer.echo(f"intact: {len(files)} files, {sum(t.events for t in report.tenants)} events")
