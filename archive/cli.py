"""The `archive` command: serve, init, import, export, check and keys.

    archive serve [--host H] [--port P] [--workers N]
    archive init [--empty]
    archive import FILE        (- for standard input)
    archive export FILE        (- for standard output)
    archive check
    archive keys create NAME --scope write|admin | rotate NAME | list | revoke NAME | delete NAME

Every command takes `--database-url` (default: ARCHIVE_DATABASE_URL, else ./archive.db).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from archive import bundled, keys, transfer
from archive.db import checkpoint, engine_for, migrate, refresh_statistics, session_scope
from archive.errors import ArchiveError
from archive.settings import Settings, get_settings

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error (it stays quiet when that is not a terminal)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def _engine(args: argparse.Namespace) -> Engine:
    return engine_for(args.database_url or get_settings().database_url)


def cmd_init(args: argparse.Namespace) -> int:
    engine = _engine(args)
    report = bundled.initialize(engine, empty=args.empty)
    checkpoint(engine, truncate=report is not None)  # so that the server reads the file
    where = engine.url.render_as_string(hide_password=True)
    if report is None:
        count = bundled.document_count(engine)
        out.print(f"Database {where} is migrated; it holds {count} documents.")
    else:
        out.print(f"Database {where} is migrated; loaded the bundled corpus: {report}.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    cmd_init(argparse.Namespace(database_url=args.database_url, empty=args.empty))
    if args.database_url:
        os.environ["ARCHIVE_DATABASE_URL"] = args.database_url  # for worker processes
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers or get_settings().workers,
        log_level=args.log_level,
        # X-Forwarded-* are read by the app, from ARCHIVE_TRUSTED_PROXIES only (api/app.py)
        proxy_headers=False,
        http="api.server:ArchiveHttpProtocol",  # reads non-ASCII URLs as percent-encoded
    )
    return 0


def _read_lines(path: str) -> list[str]:
    if path == "-":
        return transfer.split_lines(sys.stdin.read())
    try:
        return transfer.split_lines(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ArchiveError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def cmd_import(args: argparse.Namespace) -> int:
    engine = _engine(args)
    migrate(engine)
    lines = _read_lines(args.file)
    with (
        progress_bar(f"Importing {args.file}", transfer.count_lines(lines)) as step,
        session_scope(engine, write=True) as session,
    ):
        report = transfer.import_lines(session, lines, actor=args.actor, progress=step)
    if report:
        refresh_statistics(engine)
    out.print(f"Imported {report or 'nothing'}.")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    engine = _engine(args)
    migrate(engine)
    with session_scope(engine) as session:
        if args.file == "-":
            for line in transfer.export_lines(session):
                sys.stdout.write(line)
            sys.stdout.flush()
            return 0
        target = Path(args.file)
        partial = target.with_name(target.name + ".partial")
        count = 0
        with partial.open("w", encoding="utf-8") as fh:
            for line in transfer.export_lines(session):
                fh.write(line)
                count += 1
        partial.replace(target)  # a failed export never leaves a truncated file behind
    err.print(f"Exported {count} records to {target}.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from archive.integrity import check

    engine = _engine(args)
    migrate(engine)
    with session_scope(engine) as session:
        problems, checked = check(session)
    for problem in problems:
        out.print(f"[red]✗[/red] {problem}", highlight=False)
    summary = ", ".join(f"{n} {what}" for what, n in checked.items())
    if problems:
        out.print(f"{len(problems)} problem(s) found; checked {summary}.")
        return 1
    out.print(f"All consistent: checked {summary}.")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from archive.lookup import index

    engine = _engine(args)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        count = index.rebuild(session)
    err.print(f"Rebuilt the passage index of {count} current texts.")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    engine = _engine(args)
    migrate(engine)
    with session_scope(engine, write=True) as session:
        if args.keys_command in ("create", "rotate"):
            if args.keys_command == "create":
                key, secret = keys.create_key(session, args.name, args.scope or "write")
                done = "Created"
            else:
                key, secret = keys.rotate_key(session, args.name, args.scope)
                done = "Issued a new secret for"
            err.print(f"{done} key {key.name!r} with scope {key.scope!r}. It is shown once:")
            print(secret, flush=True)
        elif args.keys_command == "list":
            for key in keys.list_keys(session):
                state = f"revoked {transfer.iso(key.revoked_at)}" if key.revoked_at else "active"
                out.print(
                    f"{key.name}\t{key.scope}\t{key.prefix}…\t"
                    f"created {transfer.iso(key.created_at)}\t{state}",
                    highlight=False,
                )
        elif args.keys_command == "delete":
            keys.delete_key(session, args.name)
            out.print(f"Deleted key {args.name!r}.")
        else:
            key = keys.revoke_key(session, args.name)
            out.print(f"Revoked key {key.name!r}.")
    return 0


def _positive(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return number


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--database-url", help="SQLAlchemy URL (default: $ARCHIVE_DATABASE_URL or ./archive.db)"
    )
    top = argparse.ArgumentParser(
        prog="archive", description="The Secret Speech archive: an annotated source archive API."
    )
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="migrate, load the corpus, serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=_positive,
        help="worker processes (default: $ARCHIVE_WORKERS, else 1)",
    )
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--empty", action="store_true", help="do not load the bundled corpus into an empty database"
    )
    serve.set_defaults(func=cmd_serve)

    init = sub.add_parser("init", parents=[common], help="migrate and load the bundled corpus")
    init.add_argument("--empty", action="store_true", help="migrate only; load nothing")
    init.set_defaults(func=cmd_init)

    imp = sub.add_parser("import", parents=[common], help="import NDJSON in one transaction")
    imp.add_argument("file", help="NDJSON file, or - for standard input")
    imp.add_argument("--actor", default="cli", help="who is recorded as having made the records")
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", parents=[common], help="export the archive as NDJSON")
    exp.add_argument("file", help="target file, or - for standard output")
    exp.set_defaults(func=cmd_export)

    chk = sub.add_parser(
        "check", parents=[common], help="verify every span and link, and the passage index"
    )
    chk.set_defaults(func=cmd_check)

    rei = sub.add_parser(
        "reindex", parents=[common], help="rebuild quote lookup's passage index from the texts"
    )
    rei.set_defaults(func=cmd_reindex)

    key = sub.add_parser("keys", parents=[common], help="manage API keys")
    ksub = key.add_subparsers(dest="keys_command", required=True)
    create = ksub.add_parser("create", parents=[common], help="make a key; prints it last")
    create.add_argument("name")
    create.add_argument("--scope", choices=["write", "admin"], default=None, help="default write")
    rotate = ksub.add_parser(
        "rotate",
        parents=[common],
        help="a new secret for a key (created if there is none; a revoked one lives again); "
        "prints it last",
    )
    rotate.add_argument("name")
    rotate.add_argument("--scope", choices=["write", "admin"], default=None)
    ksub.add_parser("list", parents=[common], help="list keys (never their secrets)")
    revoke = ksub.add_parser("revoke", parents=[common], help="revoke a key by name")
    revoke.add_argument("name")
    delete = ksub.add_parser("delete", parents=[common], help="forget a key altogether")
    delete.add_argument("name")
    key.set_defaults(func=cmd_keys)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        Settings()  # a bad ARCHIVE_* variable stops every command before it starts (not
        # get_settings(): serve sets ARCHIVE_DATABASE_URL from --database-url, then reads)
    except ValidationError as exc:
        for problem in exc.errors():
            name = "ARCHIVE_" + "_".join(str(part) for part in problem["loc"]).upper()
            err.print(f"[red]error:[/red] {name}: {problem['msg']}", highlight=False)
        return 2
    try:
        return args.func(args)
    except ArchiveError as exc:
        err.print(f"[red]error:[/red] {exc.detail}", highlight=False)
        return 1
    except SQLAlchemyError as exc:
        # Nothing was written (the transaction rolled back); say why without a traceback.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        err.print(f"[red]database error:[/red] {reason}; nothing was changed", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
