"""References to a section of the README or of docs/ (`README "Your own data"`, `docs/flink.md "Faults"`,
`README.md#troubleshooting`) in code, config and docs: each names a heading that exists."""
import os
import re
import subprocess

from tests.test_e2e import REPO

REF = re.compile(r'(README(?:\.md)?|docs/[a-z_]+\.md)(?: "([^"\n]+)"|#([a-z0-9-]+))')


def _headings(rel: str) -> list[str]:
    return [line.lstrip("#").strip().lower() for line in open(os.path.join(REPO, rel)) if line.startswith("#")]


def _anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading).replace(" ", "-")


def test_every_section_reference_names_a_heading():
    files = subprocess.run(["git", "ls-files", "*.py", "*.md", "*.yaml", "*.toml", "Makefile"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    broken, seen = [], 0
    for rel in files:
        for n, line in enumerate(open(os.path.join(REPO, rel), errors="replace"), 1):
            for target, title, anchor in REF.findall(line):
                target = "README.md" if target.startswith("README") else target
                heads = _headings(target) if os.path.exists(os.path.join(REPO, target)) else []
                seen += 1
                ok = (any(title.lower() in h for h in heads) if title else
                      any(_anchor(h) == anchor for h in heads))
                if not ok:
                    broken.append(f"{rel}:{n}: {target} {title or '#' + anchor}")
    assert seen >= 20 and not broken, "\n".join(broken)
