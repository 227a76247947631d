"""Real time series that ship inside installed packages (statsmodels), and windowing.

``sunspots``: yearly mean sunspot numbers 1700-2008 (309 values); ``co2``: weekly Mauna Loa CO2
1958-2001, averaged by month with gaps filled by interpolation (526 values). A forecasting run
cuts the series into (window -> next ``horizon`` values) examples (:func:`windows`) and splits them
in time (:func:`split_windows`); the last ``test_fraction`` of the series is held out and only
forecast, never trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnforge.errors import DataError, excerpt


@dataclass
class Series:
    name: str
    values: np.ndarray  # (T,) float32
    times: np.ndarray  # (T,) float: year (fractional for monthly data)
    unit: str


def _sunspots() -> Series:
    import statsmodels.api as sm

    df = sm.datasets.sunspots.load_pandas().data
    return Series("sunspots", df["SUNACTIVITY"].to_numpy(np.float32), df["YEAR"].to_numpy(float), "mean sunspot number")


def _co2() -> Series:
    import statsmodels.api as sm

    monthly = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    times = monthly.index.year + (monthly.index.month - 1) / 12
    return Series("co2", monthly.to_numpy(np.float32), np.asarray(times, float), "CO2 ppm")


SERIES = {"sunspots": ("yearly sunspot numbers 1700-2008 (statsmodels)", _sunspots),
          "co2": ("monthly Mauna Loa CO2 1958-2001 (statsmodels)", _co2)}


def load_series(name: str) -> Series:
    if name not in SERIES:
        raise DataError(f"unknown time series '{excerpt(name)}' for task=forecast; accepted: {', '.join(SERIES)}")
    try:
        return SERIES[name][1]()
    except ImportError:
        raise DataError("time series need statsmodels: pip install 'nnforge[sequences]'") from None


def windows(values: np.ndarray, window: int, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (N, window, 1), targets (N, horizon), and the index of each target's first step."""
    n = len(values) - window - horizon + 1
    if n <= 0:
        raise DataError(f"series of {len(values)} values is too short for window {window} + horizon {horizon}")
    idx = np.arange(n)[:, None]
    x = values[idx + np.arange(window)][..., None]
    y = values[idx + window + np.arange(horizon)]
    return x.astype(np.float32), y.astype(np.float32), np.arange(n) + window


def split_windows(n_values: int, starts: np.ndarray, test_fraction: float, val_fraction: float, *, horizon: int):
    """Boolean masks (train, val, test) over windows, by the time of their targets, and the index
    where the test part starts. A window whose targets begin before the test part but reach into
    it (``horizon`` > 1) is in no split: trained or validated on, it would show the model values it
    is then judged on; so is a window whose targets reach from the training part into the
    validation part."""
    test_start = int(round(n_values * (1 - test_fraction)))
    test = starts >= test_start
    rest = np.nonzero(starts + horizon <= test_start)[0]
    n_val = int(round(len(rest) * val_fraction))
    train, val = np.zeros_like(test), np.zeros_like(test)
    val[rest[len(rest) - n_val:]] = True
    val_start = starts[val].min() if n_val else test_start
    train[rest[starts[rest] + horizon <= val_start]] = True
    return train, val, test, test_start
