"""``alertcast validate FILE...``: validate CAP files and report every rule violation.

Contract (relied on by scripts and CI): exit 0 when every file is valid, 1 when any file is
invalid, 2 on usage errors (no file, missing or unreadable file, bad option). ``--json`` prints
one JSON document on stdout instead of the human report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from alerts.cap.parse import DEFAULT_MAX_BYTES, parse
from alerts.cap.result import ParseResult

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def validate(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="CAP XML files to validate",
            metavar="FILE",
            exists=True,
            file_okay=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON instead of a report")
    ] = False,
    ipaws_profile: Annotated[
        bool, typer.Option("--ipaws", help="Also apply the CAP-IPAWS v1.0 profile rules")
    ] = False,
    require_signature: Annotated[
        bool, typer.Option("--require-signature", help="Reject alerts without a valid signature")
    ] = False,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", min=1, help="Largest accepted document in bytes")
    ] = DEFAULT_MAX_BYTES,
) -> None:
    """Validate CAP alert files: XML safety, OASIS XSD, CAP rules and XML signatures."""
    results: list[tuple[Path, ParseResult]] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            Console(stderr=True).print(f"error: cannot read {escape(str(path))}: {exc}")
            raise typer.Exit(EXIT_USAGE) from exc
        result = parse(
            data,
            max_bytes=max_bytes,
            ipaws_profile=ipaws_profile,
            require_signature=require_signature,
        )
        results.append((path, result))
    if json_output:
        typer.echo(json.dumps(_report(results), indent=2, ensure_ascii=False))
    else:
        _print_human(results)
    raise typer.Exit(EXIT_VALID if all(r.ok for _, r in results) else EXIT_INVALID)


def _file_report(path: Path, result: ParseResult) -> dict[str, Any]:
    """The JSON object for one file."""
    alert = result.alert
    return {
        "file": str(path),
        "valid": result.ok,
        "cap_version": result.cap_version,
        "signature": {
            "status": result.signature.status,
            "signer": result.signature.signer_subject,
            "trusted": result.signature.trusted,
        },
        "alert": None
        if alert is None
        else {
            "identifier": alert.identifier,
            "sender": alert.sender,
            "sent": alert.sent.isoformat(),
            "status": alert.status.value,
            "msgType": alert.msg_type.value,
        },
        "issues": [i.as_dict() for i in result.issues],
    }


def _report(results: list[tuple[Path, ParseResult]]) -> dict[str, Any]:
    """The whole JSON document."""
    return {
        "valid": all(r.ok for _, r in results),
        "files": [_file_report(path, result) for path, result in results],
    }


def _print_human(results: list[tuple[Path, ParseResult]]) -> None:
    """A readable report: one verdict line per file, then one line per issue."""
    console = Console(highlight=False, soft_wrap=True)
    for path, result in results:
        verdict = "[green]VALID[/green]" if result.ok else "[red]INVALID[/red]"
        version = f"CAP {result.cap_version}" if result.cap_version else "not CAP"
        console.print(
            f"{verdict} {escape(str(path))} ({version}, signature {result.signature.status})"
        )
        for issue in result.issues:
            colour = "red" if issue.severity == "error" else "yellow"
            where = f"line {issue.line}" if issue.line else "line ?"
            path_text = f" {escape(issue.path)}" if issue.path else ""
            console.print(
                f"  [{colour}]{issue.severity:7}[/{colour}] {issue.rule} {where}{path_text}: "
                f"{escape(issue.message)}"
            )
    invalid = sum(not r.ok for _, r in results)
    console.print(f"{len(results) - invalid} valid, {invalid} invalid")
