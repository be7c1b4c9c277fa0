"""Remembered validations: a checked file is not scanned again while nothing it depends on changed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import kpilib
from kpilib import data, validations


@pytest.fixture(autouse=True)
def _clean_memory(monkeypatch):
    monkeypatch.delenv(validations.ENVIRONMENT_VARIABLE, raising=False)
    validations.forget()
    yield
    validations.forget()


def _orders(folder: Path, amounts: list[object]) -> Path:
    folder.mkdir(exist_ok=True)
    pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(amounts))],
                  "ts": ["2026-10-01"] * len(amounts), "amount": amounts}).to_csv(folder / "orders.csv", index=False)
    return folder


def _email_with_a_note(folder: Path) -> Path:
    """An email table whose second send was clicked with no open recorded (kept, noted)."""
    folder.mkdir(exist_ok=True)
    (folder / "email.csv").write_text(
        "campaign,customer_id,sent_at,bounce,opened_at,clicked_at,unsubscribed_at,complained_at\n"
        "news,c1,2026-10-02 08:00,none,2026-10-02 09:00,,,\n"
        "news,c2,2026-10-02 08:00,none,,2026-10-02 10:00,,\n"
    )
    return folder


def _counting_validate(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = data._validate

    def validate(schema, raw, options=None):
        calls.append(schema.name)
        return real(schema, raw, options)

    monkeypatch.setattr(data, "_validate", validate)
    return calls


def test_a_second_load_of_an_unchanged_folder_does_not_scan_again(tmp_path, monkeypatch):
    folder = _email_with_a_note(_orders(tmp_path / "src", [10.0, 5.0]))
    calls = _counting_validate(monkeypatch)
    first = kpilib.load_dataset(folder)
    second = kpilib.load_dataset(folder)
    assert calls == ["orders", "email"]
    assert first.notes == second.notes and any("email.clicked_at: 1 of 2 rows" in n for n in first.notes)
    for name in ("orders", "email"):
        pd.testing.assert_frame_equal(getattr(first, name).to_pandas(), getattr(second, name).to_pandas())
        assert getattr(first, name).schema() == getattr(second, name).schema()
    # other contract options are another validation
    kpilib.load_dataset(folder, future_tolerance="7D")
    assert calls == ["orders", "email"] * 2


def test_a_changed_file_is_checked_again_and_its_error_is_not_hidden(tmp_path, monkeypatch):
    folder = _orders(tmp_path / "src", [10.0, 5.0])
    calls = _counting_validate(monkeypatch)
    kpilib.load_dataset(folder)
    time.sleep(0.01)
    _orders(folder, [10.0, "ten"])
    with pytest.raises(kpilib.DataError, match="amount"):
        kpilib.load_dataset(folder)
    with pytest.raises(kpilib.DataError, match="amount"):  # a failure is never remembered
        kpilib.load_dataset(folder)
    assert calls == ["orders"] * 3


def test_no_validation_asked_means_nothing_remembered(tmp_path, monkeypatch):
    folder = _orders(tmp_path / "src", [1.0])
    calls = _counting_validate(monkeypatch)
    kpilib.load_dataset(folder, validate=False)
    kpilib.load_dataset(folder)
    assert calls == ["orders"]


def test_a_child_process_reuses_the_validations_written_for_it(tmp_path):
    folder = _email_with_a_note(tmp_path / "src")
    notes = kpilib.load_dataset(folder).notes
    assert notes
    memo = validations.export(tmp_path / "memo.json")
    probe = (
        "import kpilib, kpilib.data as d\n"
        "def refuse(*a, **k): raise AssertionError('scanned again')\n"
        "d._validate = refuse\n"
        f"print(kpilib.load_dataset({str(folder)!r}).notes)\n"
    )
    env = {**os.environ, validations.ENVIRONMENT_VARIABLE: str(memo)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == repr(notes)
    # without the file, the child checks for itself
    env.pop(validations.ENVIRONMENT_VARIABLE)
    failed = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert failed.returncode != 0 and "scanned again" in failed.stderr


def test_file_keys_follow_the_file_and_its_context(tmp_path):
    path = _orders(tmp_path / "src", [1.0]) / "orders.csv"
    key = validations.file_key(path, "orders", "options")
    assert key == validations.file_key(path, "orders", "options")
    assert key != validations.file_key(path, "orders", "other options")
    time.sleep(0.01)
    path.write_text(path.read_text())  # same bytes, a new modification time: checked again
    assert key != validations.file_key(path, "orders", "options")
    assert validations.file_key(tmp_path / "missing.csv") is None
    assert validations.recall(None) is None
