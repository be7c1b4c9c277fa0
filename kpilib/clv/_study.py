"""The CLV notebook's study: which orders, which periods, which time unit, and the
reference parameters to compare the fit with (published for CDNOW, the generator's
``truth.json`` for a generated sample)."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ibis
import pandas as pd

from kpilib.clv._rfm import _STEP, CDNOW_PUBLISHED, load_cdnow
from kpilib.clv._units import TimeUnit
from kpilib.data import DataError, Dataset, load_dataset
from kpilib.periods import default_cutoff, month_bounds, to_utc


@dataclass
class CLVStudy:
    """What the CLV notebook analyses: the orders, the periods, the unit and a reference.

    Made by :func:`clv_study`. ``calibration_end`` is the inclusive split point,
    ``as_of`` the exclusive end of the data (the holdout runs from the one to the other);
    ``period`` and ``period_multiplier`` the model's time unit (:attr:`unit` gives them as
    keyword arguments). ``reference`` holds published (CDNOW) or true (generated sample)
    parameters, in the shape :func:`~kpilib.clv.parameter_table` takes.
    """

    dataset: str
    orders: ibis.Table | pd.DataFrame | None
    customers: ibis.Table | pd.DataFrame | None
    spend: ibis.Table | pd.DataFrame | None
    month: str
    calibration_start: pd.Timestamp | None
    calibration_end: pd.Timestamp
    as_of: pd.Timestamp
    period: str
    period_multiplier: int
    reference: dict[str, Any] | None
    reference_label: str

    @property
    def unit(self) -> dict[str, Any]:
        """``{"period": …, "period_multiplier": …}``, to pass on as ``**study.unit``."""
        return {"period": self.period, "period_multiplier": self.period_multiplier}

    @property
    def periods(self) -> pd.DataFrame:
        """The periods as a small table for display (``to``: the last day observed)."""
        return pd.DataFrame({
            "period": ["calibration", "holdout"],
            "from": [str(self.calibration_start.date()) if self.calibration_start is not None else "first order",
                     str((self.calibration_end + pd.Timedelta(seconds=1)).date())],
            "to": [str(self.calibration_end.date()), str((self.as_of - _STEP).date())],
            "time unit": [TimeUnit(self.period, self.period_multiplier).name] * 2,
        })

    @property
    def freq(self) -> str:
        """Deprecated name of :attr:`period`."""
        warnings.warn("CLVStudy.freq is deprecated; use CLVStudy.period", FutureWarning, stacklevel=2)
        return self.period

    @property
    def freq_multiplier(self) -> int:
        """Deprecated name of :attr:`period_multiplier`."""
        warnings.warn("CLVStudy.freq_multiplier is deprecated; use CLVStudy.period_multiplier", FutureWarning,
                      stacklevel=2)
        return self.period_multiplier

    @property
    def observation_end(self) -> pd.Timestamp:
        """Deprecated: the last instant observed, ``as_of`` − 1 µs (pass ``as_of`` instead)."""
        warnings.warn("CLVStudy.observation_end is deprecated; use CLVStudy.as_of (exclusive)", FutureWarning,
                      stacklevel=2)
        return self.as_of - _STEP


def _month_end(month: str) -> pd.Timestamp:
    """The last instant (1 µs before the next month) of ``month``: a calibration end."""
    return month_bounds(month)[1] - pd.Timedelta(microseconds=1)


def _periods_for(month: str, holdout_months: int, calibration_months: int) -> tuple:
    """(calibration start or None, calibration end (inclusive), as_of (exclusive: the
    first instant after ``month``))."""
    if holdout_months < 1:
        raise ValueError(f"holdout_months must be at least 1, got {holdout_months!r}")
    as_of = month_bounds(month)[1]
    cal_end = _month_end(str(pd.Period(month, freq="M") - holdout_months))
    start = None
    if calibration_months:
        start = (pd.Period(month, freq="M") - holdout_months - calibration_months + 1).start_time.tz_localize("UTC")
    return start, cal_end, as_of


def _feasible_holdout(orders: ibis.Table, month: str, holdout_months: int) -> int:
    """``holdout_months``, or fewer when the orders before the holdout would span less time
    than the holdout itself (early months of a young dataset); a warning says so."""
    first = orders.ts.min().execute()
    if first is None or pd.isna(first):
        raise DataError("there are no orders", table="orders", fix="The CLV analysis needs an orders table with rows")
    history = (pd.Period(month, freq="M") - pd.Period(pd.Timestamp(first).tz_localize(None), freq="M")).n + 1
    if history < 2:
        raise DataError(
            f"the orders start in {pd.Timestamp(first):%Y-%m}, so there is less than two months of history by "
            f"the end of {month}",
            table="orders",
            column="ts",
            fix="Report a later month; a calibration and a holdout period both need time",
        )
    if holdout_months <= history // 2:
        return holdout_months
    shortened = max(1, history // 2)
    warnings.warn(
        f"the orders start in {pd.Timestamp(first):%Y-%m}: {history} months of history by the end of {month} "
        f"cannot hold a {holdout_months}-month holdout after a calibration period as long; using "
        f"{shortened} month(s) instead",
        UserWarning,
        stacklevel=3,
    )
    return shortened


def _source_folder(source: Any, ds: Dataset) -> Path | None:
    """The folder the data were read from, or None (DataFrames, a connection).

    A path — or nothing, the bundled sample — was loaded from that folder. A
    :class:`~kpilib.data.Dataset` records its origin in ``source``: a folder's path, or
    ``"DataFrames"`` / ``"<backend> connection"``; it is a folder when that names an
    existing directory. DataFrames and connections have no folder, so no ``truth.json``.
    """
    if source is None or isinstance(source, (str, Path)):
        return Path(ds.source)
    if isinstance(source, Dataset) and ds.source and Path(ds.source).is_dir():
        return Path(ds.source)
    return None


def _reference(truth_file: Path | None) -> tuple[dict[str, Any] | None, str]:
    """The CLV parameters of a generator's ``truth.json`` (in days), and their label."""
    if truth_file is None or not truth_file.is_file():
        return None, ""
    clv_truth = json.loads(truth_file.read_text()).get("clv", {})
    if clv_truth.get("bgnbd", {}).get("time_unit") != "days":
        return None, ""
    return ({"bgnbd": clv_truth["bgnbd"], "gamma_gamma": clv_truth.get("gamma_gamma", {})},
            "true (truth.json of the generated data)")


def clv_study(
    dataset: Literal["sample", "cdnow"] = "sample",
    *,
    source: Any = None,
    month: str = "2026-10",
    holdout_months: int = 6,
    calibration_months: int = 0,
    truth: str | Path | None = None,
) -> CLVStudy:
    """Gather the data and the periods the CLV notebook analyses.

    Parameters
    ----------
    dataset : {"sample", "cdnow"}
        ``"sample"``: the orders of ``source`` (a folder, dict or connection; default the
        bundled sample), in days, holdout = the ``holdout_months`` months up to the end of
        ``month``, calibration = the ``calibration_months`` months before it (0 = all
        history); the reference is ``truth.json``'s CLV parameters when present.
        ``"cdnow"``: the CDNOW sample inside lifetimes with the paper's setting (weeks,
        calibration to 1997-09-30, holdout to 1998-06-30, month 1998-06); the reference is
        the published parameters.
    source : str, Path, dict of DataFrames, Ibis backend or Dataset, optional
        As :func:`kpilib.load_dataset` takes it (``"sample"`` only).
    month : str
        The report month, ``YYYY-MM``; the data end with it (``as_of`` is the first
        instant after it).
    holdout_months, calibration_months : int
        The holdout (shortened, with a warning, when the history cannot hold it after a
        calibration period as long) and the calibration window (0: all history).
    truth : str or Path, optional
        A ``truth.json`` whose ``clv`` parameters (in days) are the reference. Default: the
        ``truth.json`` in the source folder when the data were read from a folder (a path,
        the bundled sample, or a Dataset loaded from one) and the file is there;
        DataFrames and connections have none.

    Examples
    --------
    >>> study = clv_study("cdnow")
    >>> study.periods[["period", "to", "time unit"]]
            period          to time unit
    0  calibration  1997-09-30     weeks
    1      holdout  1998-06-30     weeks
    """
    if dataset == "cdnow":
        published = CDNOW_PUBLISHED
        return CLVStudy("cdnow", load_cdnow(), None, None, "1998-06", None,
                        to_utc(published["calibration_end"], "calibration_end"),
                        default_cutoff(published["observation_end"]),
                        published["period"], published["period_multiplier"],
                        {"bgnbd": published["bgnbd"], "gamma_gamma": published["gamma_gamma"]},
                        "published (Fader, Hardie & Lee 2005)")
    if dataset != "sample":
        raise ValueError(f"dataset must be 'sample' or 'cdnow', got {dataset!r}")
    ds = load_dataset(source or None)
    holdout_months = _feasible_holdout(ds.require("orders", "the CLV analysis"), month, holdout_months)
    start, cal_end, as_of = _periods_for(month, holdout_months, calibration_months)
    if truth is None:
        folder = _source_folder(source or None, ds)
        truth_file = folder / "truth.json" if folder is not None else None
    else:
        truth_file = Path(truth).expanduser()
        if not truth_file.is_file():
            raise FileNotFoundError(f"truth={str(truth)!r}: there is no such file")
    reference, label = _reference(truth_file)
    return CLVStudy("sample", ds.orders, ds.customers, ds.spend, month, start, cal_end, as_of, "D", 1,
                    reference, label)
