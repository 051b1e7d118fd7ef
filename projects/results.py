"""Expected results as data: ``projects/<p>/results.json`` and the text generated from it.

A project's ``results.json`` lists what its paper or reference repository reports::

    {"project": "masnet", "decimals": 2, "results": [
        {"name": "ssv1_8f", "presets": ["ssv1_8f"], "protocol": "2x3", "metrics": {"top1": 51.05, "top5": 79.47},
         "source": "reference README", "reproduced": null, "scripts": ["train_ssv1_8f.sh", "test_ssv1_8f_2x3.sh"]}]}

``protocol`` is clips x crops of ``test.py``; ``presets`` are the training presets (two for an ensemble);
``reproduced`` is what this repository measured (null: not run); ``scripts`` are the ``scripts/`` files that
produce the number. Each such script carries the line :func:`script_comment` renders, and the project README the
table :func:`readme_table` renders between ``<!-- results.json -->`` and ``<!-- /results.json -->``;
``ci/test_results.py`` checks both, and ``python -m projects.results`` rewrites them after an edit of the data.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

PROJECTS_DIR = Path(__file__).resolve().parent
BEGIN, END = "<!-- results.json -->", "<!-- /results.json -->"
COMMENT_PREFIX = "# Expected "


def load(project: str) -> dict[str, Any]:
    return json.loads((PROJECTS_DIR / project / "results.json").read_text())


def projects_with_results() -> list[str]:
    return sorted(path.parent.name for path in PROJECTS_DIR.glob("*/results.json"))


def _metrics(entry: dict[str, Any], decimals: int) -> str:
    """``top1 51.05, top5 79.47``; a null value is a number the paper or repository does not publish (or that could
    not be retrieved: ``source`` says which)."""
    return ", ".join(f"{name} {'not published' if value is None else f'{value:.{decimals}f}'}"
                     for name, value in entry["metrics"].items())


def script_comment(entry: dict[str, Any], decimals: int) -> str:
    """The expected-number line of a script (``clips x crops`` protocol, source, metrics)."""
    presets = " + ".join(entry["presets"])
    return f"{COMMENT_PREFIX}({presets}, {entry['protocol']} clips x crops, {entry['source']}): " \
           f"{_metrics(entry, decimals)}"


def readme_table(results: dict[str, Any]) -> str:
    """The README's reported-vs-reproduced table, with its markers."""
    decimals = results["decimals"]
    rows = [BEGIN, "| result | presets | clips x crops | reported | reproduced | source | scripts |",
            "|---|---|---|---|---|---|---|"]
    for entry in results["results"]:
        reproduced = "not run" if entry["reproduced"] is None else str(entry["reproduced"])
        scripts = ", ".join(f"`{script}`" for script in entry["scripts"])
        rows.append(f"| {entry['name']} | {' + '.join(entry['presets'])} | {entry['protocol']} | "
                    f"{_metrics(entry, decimals)} | {reproduced} | {entry['source']} | {scripts} |")
    return "\n".join(rows + [END])


def expected_script_comments(project: str) -> dict[str, list[str]]:
    """Script name -> the expected-number lines it must carry, in results.json order."""
    results = load(project)
    lines: dict[str, list[str]] = {}
    for entry in results["results"]:
        for script in entry["scripts"]:
            lines.setdefault(script, []).append(script_comment(entry, results["decimals"]))
    return lines


def readme_section(text: str) -> str | None:
    """The marked results table of a README, or None without markers."""
    match = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), text, re.S)
    return match.group(0) if match else None


def rewrite(project: str) -> None:
    """Write the rendered lines into the project's scripts and README (replacing earlier ``# Expected`` lines)."""
    results = load(project)
    for script, lines in expected_script_comments(project).items():
        path = PROJECTS_DIR / project / "scripts" / script
        kept = [line for line in path.read_text().splitlines() if not line.startswith(COMMENT_PREFIX)]
        path.write_text("\n".join(kept[:2] + lines + kept[2:]) + "\n")  # after the shebang and the title line
    readme = PROJECTS_DIR / project / "README.md"
    text = readme.read_text()
    section = readme_section(text)
    if section is None:
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} section")
    readme.write_text(text.replace(section, readme_table(results)))


if __name__ == "__main__":
    for name in sys.argv[1:] or projects_with_results():
        rewrite(name)
