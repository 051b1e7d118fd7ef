"""Expected numbers live in each project's ``results.json``; the scripts' comments and the README tables are checked
against it here instead of being kept in step by hand (``projects/results.py``; fix with ``python -m
projects.results``)."""
from __future__ import annotations

from pathlib import Path

import pytest

from projects import recipes, results

RESULTS = results.projects_with_results()
RECIPES = recipes()
REQUIRED_KEYS = {"name", "presets", "protocol", "metrics", "source", "reproduced", "scripts"}


def test_every_project_with_presets_records_its_results():
    paper_presets = {name for name, recipe in RECIPES.items() if set(recipe.presets) - {"tiny_synthetic"}}
    assert paper_presets <= set(RESULTS), f"projects without results.json: {sorted(paper_presets - set(RESULTS))}"


@pytest.mark.parametrize("project", RESULTS)
def test_entries_name_existing_presets_scripts_and_protocols(project):
    data = results.load(project)
    assert data["project"] == project and isinstance(data["decimals"], int)
    names = [entry["name"] for entry in data["results"]]
    assert len(names) == len(set(names)), f"{project}: duplicate result names"
    for entry in data["results"]:
        assert set(entry) == REQUIRED_KEYS, (project, entry["name"], set(entry) ^ REQUIRED_KEYS)
        unknown = set(entry["presets"]) - set(RECIPES[project].presets)
        assert not unknown, f"{project} {entry['name']}: no preset {sorted(unknown)}"
        clips, crops = (int(n) for n in entry["protocol"].split("x"))
        assert clips >= 1 and crops in (1, 3, 5, 10), (project, entry["name"], entry["protocol"])
        assert entry["metrics"] and all(value is None or 0 <= value <= 100 for value in entry["metrics"].values())
        for script in entry["scripts"]:
            assert (results.PROJECTS_DIR / project / "scripts" / script).is_file(), f"{project}: no {script}"


@pytest.mark.parametrize("project", RESULTS)
def test_script_comments_are_those_of_results_json(project):
    expected = results.expected_script_comments(project)
    for path in sorted(Path(results.PROJECTS_DIR / project / "scripts").glob("*.sh")):
        found = [line for line in path.read_text().splitlines() if line.startswith(results.COMMENT_PREFIX)]
        assert found == expected.get(path.name, []), (
            f"{project}/scripts/{path.name}: expected-number comments differ from results.json; "
            f"run python -m projects.results {project}")


@pytest.mark.parametrize("project", RESULTS)
def test_readme_table_is_that_of_results_json(project):
    readme = (results.PROJECTS_DIR / project / "README.md").read_text()
    assert results.readme_section(readme) == results.readme_table(results.load(project)), (
        f"projects/{project}/README.md: the results table differs from results.json; "
        f"run python -m projects.results {project}")
