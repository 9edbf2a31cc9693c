"""The layer ships python-stdnum pruned to stdnum-keep.txt (layers/shared/Makefile): IBAN
validation, all the layer uses of it, must work with only those files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import stdnum

ROOT = Path(__file__).resolve().parents[2]
KEEP = ROOT / "layers" / "shared" / "stdnum-keep.txt"


def _kept() -> set[str]:
    lines = KEEP.read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_iban_validation_works_with_only_the_kept_stdnum_files(tmp_path: Path) -> None:
    # Given stdnum pruned the way the layer build prunes it
    source = Path(stdnum.__file__).parent
    pruned = tmp_path / "stdnum"
    shutil.copytree(source, pruned, ignore=shutil.ignore_patterns("__pycache__"))
    for entry in pruned.iterdir():
        if entry.name not in _kept():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    assert {e.name for e in pruned.iterdir()} == _kept()  # every kept name exists
    # When the layer's IBAN check runs with it first on sys.path (shadowing the full one)
    code = (
        f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {str(ROOT / 'layers/shared')!r}]; "
        "import stdnum; assert stdnum.__file__.startswith(sys.path[0]), stdnum.__file__; "
        "from convoship.runtime.pii.ibans import _valid; "
        "print(_valid('DE89370400440532013000'), _valid('DE89370400440532013001'), "
        "_valid('GB29NWBK60161331926819'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Then valid IBANs pass and a bad checksum does not
    assert out.stdout.split() == ["True", "False", "True"]


def _psl_dropped() -> list[str]:
    makefile = (ROOT / "layers" / "shared" / "Makefile").read_text()
    line = next(line for line in makefile.splitlines() if line.startswith("PSL_DROP :="))
    return line.split(":=", 1)[1].split()


def test_public_suffixes_work_without_the_files_the_layer_drops(tmp_path: Path) -> None:
    # Given publicsuffixlist without its tests and updater, as the layer build leaves it
    import publicsuffixlist

    source = Path(publicsuffixlist.__file__).parent
    pruned = tmp_path / "publicsuffixlist"
    shutil.copytree(source, pruned, ignore=shutil.ignore_patterns("__pycache__"))
    dropped = _psl_dropped()
    assert dropped and all((pruned / name).is_file() for name in dropped)  # still worth dropping
    for name in dropped:
        (pruned / name).unlink()
    # When the layer's allowed-host check runs with it first on sys.path
    code = (
        f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {str(ROOT / 'layers/shared')!r}]; "
        "import publicsuffixlist; assert publicsuffixlist.__file__.startswith(sys.path[0]); "
        "from convoship.secrets.public_suffixes import public_suffix_in_reach as reach; "
        "print(reach('co.uk'), reach('amazonaws.com') is not None, reach('example.co.uk'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Then public suffixes are still found
    assert out.stdout.split() == ["co.uk", "True", "None"]
