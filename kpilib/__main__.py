"""Command line: ``python -m kpilib {report,sample-data,docs,check}``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _report(args: argparse.Namespace) -> int:
    from kpilib.report import parse_parameter, run_history, run_report

    parameters = dict(parse_parameter(text) for text in args.parameter)
    only = [name for chunk in args.only for name in chunk.split(",") if name] or None
    options = dict(source=args.source, out=args.out, only=only, parameters=parameters,
                   progress=not args.quiet, pdf=args.pdf)
    if args.month and (args.end or args.force):
        print("error: --to and --force go with --from (--month always rebuilds)", file=sys.stderr)
        return 2
    try:
        if args.month:
            results = [run_report(args.month, **options)]
        else:
            results = run_history(args.start, args.end or args.start, force=args.force, **options)
    except (ValueError, RuntimeError) as exc:  # a bad month range; no chromium for --pdf
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    from kpilib.synth import write_sample

    write_sample(args.out, customers=args.customers, seed=args.seed, start=args.start, end=args.end)
    print(f"sample data written to {args.out}")
    return 0


def _docs(args: argparse.Namespace) -> int:
    from kpilib.glossary import write_docs

    for path in write_docs(Path(args.root)):
        print(f"wrote {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from kpilib.data import DataError, load_dataset

    try:
        dataset = load_dataset(args.source or None)
    except DataError as exc:
        print(f"DataError: {exc}", file=sys.stderr)
        return 1
    print(f"source: {dataset.source}")
    print(dataset.row_counts().to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m kpilib``."""
    parser = argparse.ArgumentParser(prog="python -m kpilib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    report = sub.add_parser("report", help="run every notebook for a month (or a range) into reports/YYYY-MM/")
    months = report.add_mutually_exclusive_group(required=True)
    months.add_argument("--month", help="the report month, YYYY-MM (always rebuilt)")
    months.add_argument("--from", dest="start", metavar="YYYY-MM",
                        help="first month of a range; months already built are skipped")
    report.add_argument("--to", dest="end", metavar="YYYY-MM",
                        help="last month of the range (default: the --from month)")
    report.add_argument("--force", action="store_true", help="with --from/--to: rebuild months already built")
    report.add_argument("--pdf", action="store_true",
                        help="also print each month to report.pdf (needs chromium)")
    report.add_argument("--source", default=None, help="folder of the data (default: the bundled sample)")
    report.add_argument("--out", default="reports", help="where month folders go (default: reports)")
    report.add_argument("--only", action="append", default=[], metavar="NAMES",
                        help="run only these notebooks, e.g. --only funnel (repeat or comma-separate)")
    report.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a notebook parameter for every notebook (Python literal or text)")
    report.add_argument("--quiet", action="store_true", help="no progress bar")
    report.set_defaults(run=_report)

    sample = sub.add_parser("sample-data", help="generate the sample tables and truth.json")
    sample.add_argument("--out", required=True, help="folder to write into")
    sample.add_argument("--customers", type=int, default=5000, help="customers to simulate (default 5000)")
    sample.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    sample.add_argument("--start", default="2025-01-01", help="first day, YYYY-MM-DD (default 2025-01-01)")
    sample.add_argument("--end", default="2026-10-31", help="last day, YYYY-MM-DD (default 2026-10-31)")
    sample.set_defaults(run=_sample_data)

    docs = sub.add_parser("docs", help="render docs/metrics.md, data/README.md and the glossary notebook")
    docs.add_argument("--root", default=str(Path(__file__).resolve().parents[1]),
                      help="project root (default: this checkout)")
    docs.set_defaults(run=_docs)

    check = sub.add_parser("check", help="load and validate a source, print its row counts")
    check.add_argument("--source", default=None, help="folder of the data (default: the bundled sample)")
    check.set_defaults(run=_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m kpilib`` and the ``kpilib`` script."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
