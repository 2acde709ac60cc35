"""index.html keeps the Markdown's structure: code blocks keep their lines, alignment rows are no data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dupbench.report.render import heading_anchor, markdown_to_html

MARKDOWN = """# Title

## How to reproduce

```bash
pip install -e ".[test]"
dupbench sweep experiments/seed_study.toml --out results/
dupbench report results/ --out report
```

| tool | wall s | left | middle |
|---|---:|:---|:---:|
| dupbench | 4.35 | a | b |
| peer | 3.19 | c | d |

See [How to reproduce](#how-to-reproduce).
"""


@pytest.fixture
def page(tmp_path: Path) -> str:
    return markdown_to_html(MARKDOWN, tmp_path)


def test_a_fenced_code_block_keeps_its_line_breaks(page):
    block = re.search(r"<pre>(.*?)</pre>", page, re.S)
    assert block is not None
    lines = block.group(1).split("\n")
    assert lines == ["pip install -e &quot;.[test]&quot;", "dupbench sweep experiments/seed_study.toml --out results/", "dupbench report results/ --out report"]


def test_a_tables_alignment_row_is_not_rendered_as_data(page):
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    assert len(rows) == 3
    assert rows[0].startswith("<th>tool</th>")
    assert all("---" not in row for row in rows)
    assert [re.findall(r"<td>(.*?)</td>", row)[0] for row in rows[1:]] == ["dupbench", "peer"]


def test_links_to_headings_work_in_the_html(page):
    assert '<h2 id="how-to-reproduce">' in page
    assert '<a href="#how-to-reproduce">How to reproduce</a>' in page
    assert heading_anchor("The published study's shape (all pairs, all cores)") == "the-published-studys-shape-all-pairs-all-cores"
