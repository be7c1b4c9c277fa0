"""Command line: ``python -m kpilib {report,sample-data,docs,check}``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

#: What the exit codes mean (shown by ``--help``; the README's Commands table says the same).
EXIT_CODES = """\
exit codes:
  0    done (for report: no notebook failed — a notebook whose tables are absent is skipped,
       one missing an optional column runs in part — or every month was up to date)
  1    report: a notebook failed (its page shows the error; the others were written);
       report, check: the data break the contract (one line "DataError: ..."; nothing written)
  2    the command was misused: a bad argument, a month without data, no Chromium for --pdf
       (one line "error: ..."; nothing run, nothing written)
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM): the month being built is discarded,
       the previous report stays as it was
"""

#: Exit code of a misused command.
USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``error: ...; see ... --help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"error: {message}; see {self.prog} --help\n")


def _fail(message: object, code: int = USAGE, prefix: str = "error") -> int:
    """Print ``prefix: message`` as one line on stderr and return ``code``."""
    text = " ".join(str(message).split("\n")).strip()
    print(f"{prefix}: {text}", file=sys.stderr)
    return code


def _folder_problem(value: str, option: str, *, must_exist: bool) -> str | None:
    """Why ``value`` cannot be the folder of ``option`` (None when it can).

    ``must_exist=False`` is an output folder: it may be missing, but not be a file or
    below one.
    """
    if not value.strip():
        return f"{option} is empty: give a folder"
    try:
        path = Path(value).expanduser().resolve()
        if path.is_dir():
            return None
        if path.exists():
            return f"{option} {value!r} is a file, not a folder"
        if must_exist:
            return f"{option} {value!r} does not exist"
        existing = next(p for p in path.parents if p.exists())
    except (OSError, RuntimeError) as exc:  # unreadable, a symlink loop
        return f"{option} {value!r} cannot be used: {exc}"
    if not existing.is_dir():
        return f"{option} {value!r} is below a file ({str(existing)!r})"
    return None


def _report(args: argparse.Namespace) -> int:
    from kpilib.data import DataError
    from kpilib.report import ReportArgumentError, run_history, run_report

    if args.month and (args.end or args.force):
        return _fail("--to and --force go with --from (--month always rebuilds)")
    parameters = _parameters(args.parameter)
    if isinstance(parameters, str):
        return _fail(parameters)
    only = [name.strip() for chunk in args.only for name in chunk.split(",") if name.strip()] or None
    if args.only and only is None:
        return _fail("--only needs notebook names, e.g. --only funnel")
    options = dict(source=args.source, out=args.out, only=only, parameters=parameters,
                   progress=not args.quiet, pdf=args.pdf, jobs=args.jobs)
    try:
        if args.month:
            results = [run_report(args.month, **options)]
        else:
            results = run_history(args.start, args.end or args.start, force=args.force, **options)
    except DataError as exc:  # checked before any notebook runs; nothing written
        return _fail(exc, 1, prefix="DataError")
    except (ReportArgumentError, RuntimeError) as exc:  # bad arguments; no chromium for --pdf
        return _fail(exc)
    except KeyboardInterrupt:
        return _fail("interrupted; the month being built was discarded", 130)
    except SystemExit as exc:  # SIGTERM during the run (see kpilib.report), after its cleanup
        if exc.code == 143:
            return _fail("terminated (SIGTERM); the month being built was discarded", 143)
        raise
    for result in results:
        if result.skipped:
            print(f"{result.month}: up to date, skipped (--force rebuilds it)")
        elif result.failed:
            print(f"{result.month}: {len(result.failed)} notebook(s) failed: "
                  f"{', '.join(result.failed)}; report with errors written to {result.index}",
                  file=sys.stderr)
        else:
            print(f"{result.month}: report written to {result.index}")
        if result.pdf is not None and args.pdf:
            print(f"{result.month}: PDF written to {result.pdf}")
    print(f"all months: {Path(args.out).resolve() / 'index.html'}")
    return 1 if any(r.failed for r in results) else 0


def _sample_data(args: argparse.Namespace) -> int:
    import pandas as pd

    from kpilib.synth import write_sample

    problem = _folder_problem(args.out, "--out", must_exist=False)
    if problem:
        return _fail(problem)
    days = {}
    for option, value in (("--start", args.start), ("--end", args.end)):
        try:
            days[option] = pd.Timestamp(value)
        except (ValueError, TypeError):
            return _fail(f"{option} must be a date, YYYY-MM-DD, got {value!r}")
        if pd.isna(days[option]):
            return _fail(f"{option} must be a date, YYYY-MM-DD, got {value!r}")
    if days["--end"] < days["--start"]:
        return _fail(f"--end ({args.end}) comes before --start ({args.start})")
    try:
        write_sample(args.out, profile=args.profile, customers=args.customers, seed=args.seed,
                     start=args.start, end=args.end)
    except ValueError as exc:  # the generator's own checks
        return _fail(exc)
    print(f"sample data written to {args.out}")
    return 0


def _docs(args: argparse.Namespace) -> int:
    from kpilib.glossary import write_docs

    problem = _folder_problem(args.root, "--root", must_exist=True)
    if problem:
        return _fail(problem)
    for path in write_docs(Path(args.root)):
        print(f"wrote {path}")
    return 0


def _parameters(texts: Sequence[str]) -> dict[str, object] | str:
    """``-p NAME=VALUE`` options as a dict, or the one-line problem with one of them."""
    from kpilib.report import parse_parameter

    parameters: dict[str, object] = {}
    for text in texts:
        try:
            name, value = parse_parameter(text)
        except ValueError as exc:
            return f"-p: {exc}"
        if name in ("month", "source"):
            return f"-p {name}=...: give the {name} with --{name}"
        parameters[name] = value
    return parameters


def _section_plan(dataset, parameters: dict[str, object]) -> list[str]:
    """``check``'s plan: per notebook, whether it runs, and per section why not."""
    import nbformat

    from kpilib.report import default_notebooks_dir, notebook_title, select_notebooks
    from kpilib.sections import check_lines, notebook_parameters

    notebooks, titles = {}, {}
    for path in select_notebooks(default_notebooks_dir()):
        notebooks[path.stem] = {**notebook_parameters(path), **parameters}
        titles[path.stem] = notebook_title(nbformat.read(path, as_version=4), path.stem)
    return check_lines(dataset, notebooks, titles)


def _check(args: argparse.Namespace) -> int:
    from kpilib.data import DataError, load_dataset
    from kpilib.sources import is_url

    if args.source is not None and not is_url(args.source):
        problem = _folder_problem(args.source, "--source", must_exist=True)
        if problem:
            return _fail(problem)
    parameters = _parameters(args.parameter)
    if isinstance(parameters, str):
        return _fail(parameters)
    try:
        dataset = load_dataset(args.source)
    except DataError as exc:
        return _fail(exc, 1, prefix="DataError")
    print(f"source: {dataset.source}")
    spans = dataset.time_spans()
    counts = dataset.row_counts().merge(spans[["table", "first", "last"]], on="table", how="left")
    for column in ("first", "last"):
        counts[column] = counts[column].dt.strftime("%Y-%m-%d").fillna("")
    print(counts.to_string(index=False))
    for note in dataset.notes:
        print(f"note: {note}")
    try:
        plan = _section_plan(dataset, parameters)
    except DataError as exc:
        return _fail(exc, 1, prefix="DataError")
    except KeyError as exc:  # a parameter the sections refer to, set to nothing usable
        return _fail(exc.args[0] if exc.args else exc)
    print()
    print("report sections" + (" (with the -p parameters)" if parameters else " (with the notebooks' default "
                                "parameters; -p NAME=VALUE changes one)") + ":")
    for line in plan:
        print(line)
    return 0


def _whole_number(minimum: int, rule: str):
    """An argparse type: a whole number ≥ ``minimum``, else ``rule`` in the error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{rule}, got {text!r}")
        return value

    return parse


_positive_int = _whole_number(1, "must be at least 1")
_seed = _whole_number(0, "must not be negative")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m kpilib``."""
    parser = _Parser(prog="python -m kpilib", description=__doc__, epilog=EXIT_CODES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    report = sub.add_parser("report", help="run every notebook for a month (or a range) into reports/YYYY-MM/",
                            epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    months = report.add_mutually_exclusive_group(required=True)
    months.add_argument("--month", help="the report month, YYYY-MM (always rebuilt); the source must "
                        "have data in it")
    months.add_argument("--from", dest="start", metavar="YYYY-MM",
                        help="first month of a range; months already built are skipped")
    report.add_argument("--to", dest="end", metavar="YYYY-MM",
                        help="last month of the range (default: the --from month)")
    report.add_argument("--force", action="store_true", help="with --from/--to: rebuild months already built")
    report.add_argument("--pdf", action="store_true",
                        help="also print each month to report.pdf (needs chromium)")
    report.add_argument("--source", default=None, help="the data: a folder, duckdb:///file.db, postgres://user@host/db, "
                        "sc://host:port or spark-local (default: the bundled sample)")
    report.add_argument("--out", default="reports", help="where month folders go (default: reports)")
    report.add_argument("--only", action="append", default=[], metavar="NAMES",
                        help="run only these notebooks, e.g. --only funnel (repeat or comma-separate)")
    report.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a notebook parameter for every notebook (Python literal or text)")
    report.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                        help="notebooks run at once, each in its own kernel (default 1); every kernel "
                        "takes its own memory")
    report.add_argument("--quiet", action="store_true", help="no progress bar")
    report.set_defaults(run=_report)

    from kpilib.synth import PROFILES

    sample = sub.add_parser("sample-data", help="generate the sample tables and truth.json",
                            epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sample.add_argument("--out", required=True, help="folder to write into")
    sample.add_argument("--profile", choices=PROFILES, default="saas",
                        help="which company to simulate: saas (every table; the committed sample), "
                        "ecommerce (a shop: sparse repeat buying, hundreds of landing pages, no "
                        "subscriptions) or b2b-leads (a CRM export: leads, MQLs and deals only) "
                        "(default saas)")
    sample.add_argument("--customers", type=_positive_int, default=None,
                        help="customers (leads for b2b-leads) to simulate (default: the profile's, "
                        "5000 or 500)")
    sample.add_argument("--seed", type=_seed, default=7, help="random seed (default 7)")
    sample.add_argument("--start", default="2025-01-01", help="first day, YYYY-MM-DD (default 2025-01-01)")
    sample.add_argument("--end", default="2026-10-31", help="last day, YYYY-MM-DD (default 2026-10-31)")
    sample.set_defaults(run=_sample_data)

    docs = sub.add_parser("docs", help="render docs/metrics.md, data/README.md and the glossary notebook",
                          epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    docs.add_argument("--root", default=str(Path(__file__).resolve().parents[1]),
                      help="project root (default: this checkout)")
    docs.set_defaults(run=_docs)

    check = sub.add_parser("check", help="load and validate a source, print its row counts and which report "
                           "sections will run on it (and why not)",
                           epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("--source", default=None, help="the data: a folder, duckdb:///file.db, postgres://user@host/db, "
                        "sc://host:port or spark-local (default: the bundled sample)")
    check.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                       help="a notebook parameter, as for report (changes what some sections need)")
    check.set_defaults(run=_check)
    return parser


#: Modules a command never uses that a library it imports would load anyway: jsonschema
#: (imported by nbformat) builds ``rfc3987_syntax``'s IRI grammar on import, about 1.7 s,
#: to check a format that no notebook schema has.
UNUSED_MODULES = ("rfc3987_syntax",)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m kpilib`` and the ``kpilib`` script.

    Returns the exit code (see :data:`EXIT_CODES`); a misused command ends with one line
    ``error: ...`` on stderr and code 2, never a traceback. Modules of
    :data:`UNUSED_MODULES` not yet imported are marked absent for the process.
    """
    for name in UNUSED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # an import of it raises ImportError
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
