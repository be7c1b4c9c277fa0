"""The command line: sample data, validation, docs; exit codes say what happened."""

from __future__ import annotations

import json

import pandas as pd

from kpilib.__main__ import build_parser, main


def test_sample_data_writes_every_table_and_the_truth(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["sample-data", "--out", str(out), "--customers", "150", "--seed", "3",
                 "--start", "2026-01-01", "--end", "2026-06-30"]) == 0
    names = {p.name for p in out.iterdir()}
    for table in ("customers", "events", "orders", "subscriptions", "email", "surveys", "spend"):
        assert f"{table}.parquet" in names
    truth = json.loads((out / "truth.json").read_text())
    assert truth
    events = pd.read_parquet(out / "events.parquet")
    assert events.ts.min() >= pd.Timestamp("2026-01-01", tz="UTC")
    assert events.ts.max() < pd.Timestamp("2026-07-01", tz="UTC")
    assert "written" in capsys.readouterr().out


def test_check_reports_counts_and_refuses_bad_data(tmp_path, capsys):
    good = tmp_path / "good"
    good.mkdir()
    pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "amount": [3.0]}).to_csv(
        good / "orders.csv", index=False)
    assert main(["check", "--source", str(good)]) == 0
    assert "orders" in capsys.readouterr().out
    bad = tmp_path / "bad"
    bad.mkdir()
    pd.DataFrame({"customer_id": ["a"], "ts": ["2026-10-01"], "amount": [-3.0]}).to_csv(
        bad / "orders.csv", index=False)
    assert main(["check", "--source", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "table 'orders', column 'amount'" in err and "negative" in err


def test_docs_writes_the_generated_documents(tmp_path):
    assert main(["docs", "--root", str(tmp_path)]) == 0
    assert (tmp_path / "docs" / "metrics.md").exists()
    assert (tmp_path / "notebooks" / "00_glossary.ipynb").exists()


def test_report_arguments_parse():
    args = build_parser().parse_args(
        ["report", "--month", "2026-10", "--only", "funnel,glossary", "-p", "window=\"30D\""])
    assert args.month == "2026-10" and args.only == ["funnel,glossary"]
    assert args.parameter == ['window="30D"']
