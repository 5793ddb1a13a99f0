"""Loading a dataset for a command: the cached whole, then the part the command uses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from riskengine.dataset import Dataset


def load_whole(data: Path | None) -> Dataset:
    """Load the dataset of ``data`` (default: the embedded one) through the binary cache.

    Its consistency findings are not issued here: a command checks the part
    it uses (:func:`riskengine.notes.warn_findings` on its selection), so
    that gaps in other minerals or years neither clutter its output nor fail
    ``--strict``.
    """
    from riskengine.dataset import load_dataset

    return load_dataset(data, check=False)
