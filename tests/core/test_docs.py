"""A clone has everything its README points to: the design and the house style live in docs/, not ../shared."""
import re
from pathlib import Path

import pytest

# No date logic here: twice in CI (slow), not nine times (CI budget).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_readme_and_docs_link_only_to_files_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "../shared" not in readme and "docs/design.md" in readme and "docs/style.md" in readme
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        assert "../shared" not in text and "/work/" not in text, doc.name
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if not target.startswith(("http://", "https://", "mailto:")):
                assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
    design = (ROOT / "docs" / "design.md").read_text()
    for part in ("## Rules with numbers", "## Architecture", "## Glossary", "## Addresses people and scripts rely on"):
        assert part in design
