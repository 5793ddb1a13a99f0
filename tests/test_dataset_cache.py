"""The binary dataset cache: reused while the inputs are unchanged, rebuilt when they change,
never left partial, and the embedded dataset's shipped copy kept current."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import riskengine.dataset as dataset_module
from riskengine.dataset import (
    SHIPPED_CACHE,
    build_dataset,
    default_data_dir,
    input_hash,
    load_binary,
    load_dataset,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RISKENGINE_CACHE_DIR", str(tmp_path / "cache"))
    target = tmp_path / "tiny"
    shutil.copytree(TINY, target)
    return target


def cached_files(tmp_path: Path) -> list[Path]:
    """The dataset caches and any temporary file beside them (not the digests file)."""
    return sorted(p for p in (tmp_path / "cache").glob("*") if p.name != "input-digests.json")


def test_second_load_reads_the_cache(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_dataset(tiny)
    assert [p.name for p in cached_files(tmp_path)] == [f"dataset-{input_hash(tiny)}.npz"]

    def no_rebuild(directory: Path, name: str) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(dataset_module, "build_dataset", no_rebuild)
    second = load_dataset(tiny)
    np.testing.assert_array_equal(first.production, second.production)
    np.testing.assert_array_equal(first.trade_array(), second.trade_array())
    np.testing.assert_array_equal(first.governance, second.governance)
    assert list(first.countries) == list(second.countries)
    assert first.mineral_info.equals(second.mineral_info)
    assert second.path == tiny


def test_a_changed_table_is_read_again(tiny: Path) -> None:
    before = load_dataset(tiny)
    text = (tiny / "production.csv").read_text()
    (tiny / "production.csv").write_text(text.replace("COD,2024,6000", "COD,2024,7000"))
    after = load_dataset(tiny)
    assert after.production.sum() == before.production.sum() + 1000.0


def test_a_corrupt_cache_is_ignored_and_replaced(tiny: Path, tmp_path: Path) -> None:
    expected = load_dataset(tiny, cache=False)
    load_dataset(tiny)
    (cache,) = cached_files(tmp_path)
    cache.write_bytes(cache.read_bytes()[:100])
    again = load_dataset(tiny)
    np.testing.assert_array_equal(again.production, expected.production)
    assert load_binary(cache, input_hash(tiny)) is not None  # rewritten whole


def test_an_interrupted_write_leaves_no_partial_file(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(file: object, **arrays: object) -> None:
        file.write(b"PK partial")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(tiny)
    assert cached_files(tmp_path) == []  # neither the cache nor its temporary file


def test_an_unwritable_cache_directory_still_loads(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("RISKENGINE_CACHE_DIR", str(blocker / "cache"))
    assert load_dataset(tiny).production.sum() > 0


def test_the_embedded_dataset_ships_a_current_binary() -> None:
    directory = default_data_dir()
    shipped = directory / SHIPPED_CACHE
    assert shipped.is_file(), f"run data/build.py to write {shipped}"
    ds = load_binary(shipped, input_hash(directory))
    assert ds is not None, (
        f"{shipped} is stale (the tables, the product catalogue or the loading code "
        f"changed): run python data/build.py --binary"
    )
    fresh = build_dataset(directory, ds.name)
    np.testing.assert_array_equal(ds.production, fresh.production)
    assert ds.trade is not None
    assert fresh.trade is not None
    np.testing.assert_array_equal(ds.trade.content, fresh.trade.content)
    np.testing.assert_array_equal(ds.trade.screened, fresh.trade.screened)


def test_the_table_names_are_the_canonical_schemas() -> None:
    from riskengine.dataset import TABLE_NAMES
    from riskengine.io.canonical import SCHEMAS

    assert set(TABLE_NAMES) == set(SCHEMAS)


def test_unchanged_inputs_are_not_read_again(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = input_hash(tiny)
    assert (tmp_path / "cache" / "input-digests.json").is_file()
    reads: list[Path] = []
    original = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    assert input_hash(tiny) == first
    assert reads == []  # size and mtime unchanged: the remembered digests are used
    production = tiny / "production.csv"
    production.write_text(production.read_text().replace("COD,2024,6000", "COD,2024,7000"))
    assert input_hash(tiny) != first
    assert [p.resolve() for p in reads] == [production.resolve()]  # only the changed one
