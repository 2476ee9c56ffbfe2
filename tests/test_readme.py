"""The README is the operator's manual: every setting the code reads is documented there."""
from __future__ import annotations

from conftest import REPO
from index.settings import Settings


def test_every_setting_is_in_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        variable = field.validation_alias or f"HTX_{name.upper()}"
        assert f"`{variable}`" in readme, f"{variable} is not documented in README.md"


def test_quick_start_is_make_run_and_make_test():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick and "make test" in quick
