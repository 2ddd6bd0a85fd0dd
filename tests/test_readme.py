"""The README stays true: its Python tour runs, and it shows the two set-up commands."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no python example"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})


def test_readme_shows_the_two_commands():
    text = README.read_text()
    assert 'pip install -e ".[plot]" && tabular-pg tour' in text
    assert 'pip install -e ".[test]" && pytest' in text
