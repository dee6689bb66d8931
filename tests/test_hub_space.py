"""The Space folder that ``hub export --space`` writes installs as it is: its requirements are public PyPI names only,
and its app runs from the folder alone, in an interpreter where the installed hf_tiktokactions cannot be imported.

Nothing is mocked; nothing is uploaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
from huggingface_hub import SpaceCard
from packaging.requirements import Requirement
from packaging.version import Version
from test_hub_export import tiny_classifier

from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.hub.__main__ import main as hub_main
from hf_tiktokactions.hub.space import space_requirements

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: Requirement) -> str:
    return requirement.name.lower().replace("_", "-")


def _names(requirements) -> set[str]:
    return {_name(requirement) for requirement in requirements}


def _bounds(requirement: Requirement) -> tuple[Version | None, Version | None]:
    """(lowest, highest) version ``requirement``'s specifiers allow; None where they set no such bound."""
    specifiers = list(requirement.specifier)
    lowest = [Version(s.version) for s in specifiers if s.operator in (">=", ">", "==", "~=")]
    highest = [Version(s.version) for s in specifiers if s.operator in ("<", "<=", "==")]
    return max(lowest, default=None), min(highest, default=None)


def test_space_requirements_are_public_names_that_cover_the_package() -> None:
    requirements = space_requirements(ROOT / "spaces" / "requirements.txt")
    assert all(not r.url for r in requirements) and "hf-tiktokactions" not in _names(requirements)
    # every name is a distribution pip installed here from the public index (the project's own install)
    for requirement in requirements:
        assert metadata.version(requirement.name), requirement.name
    # the vendored package's imports need its dependencies and the demo extra: the file must not drift from them
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = [Requirement(line) for line in project["dependencies"] + project["optional-dependencies"]["demo"]]
    assert _names(needed) <= _names(requirements), _names(needed) - _names(requirements)
    # nor from their versions: the Space may pin higher (torch), never let in a release the package refuses
    space = {_name(requirement): requirement for requirement in requirements}
    for requirement in needed:
        low, high = _bounds(requirement)
        space_low, space_high = _bounds(space[_name(requirement)])
        drift = f"spaces/requirements.txt has {space[_name(requirement)]}, pyproject.toml {requirement}"
        assert low is None or (space_low is not None and space_low >= low), drift
        assert high is None or (space_high is not None and space_high <= high), drift


@pytest.mark.parametrize(
    "line",
    [
        "-e .",
        "hf-tiktokactions[demo]",
        "hf_tiktokactions>=0.1",
        "hf-tiktokactions[demo] @ git+https://example.org/org/hf-tiktokactions",
        "torch @ https://example.org/torch.whl",
        "--extra-index-url https://example.org/simple",
    ],
)
def test_requirements_that_need_more_than_pypi_are_refused(tmp_path: Path, line: str) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(f"gradio>=6.0\n{line}\n")
    with pytest.raises(ConfigError, match=r"requirements.txt:2"):
        space_requirements(path)


# Run the Space folder's app in a fresh interpreter: the installed (editable) hf_tiktokactions is refused, so every
# module of the package must come from the copy inside the Space folder; then classify one of the app's examples.
RUN_SPACE = textwrap.dedent(
    """
    import importlib.abc, importlib.machinery, json, sys
    from pathlib import Path

    space = Path(sys.argv[1]).resolve()

    class OnlyTheSpaceCopy(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name != "hf_tiktokactions" and not name.startswith("hf_tiktokactions."):
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.origin is None or not Path(spec.origin).resolve().is_relative_to(space):
                raise ModuleNotFoundError(f"blocked: {name} from outside the Space folder")
            return spec

    sys.meta_path.insert(0, OnlyTheSpaceCopy())
    sys.path.insert(0, str(space))  # what `python app.py` does in the Space
    import app

    demo, classifier = app.create_app()
    assert classifier is not None, "the Space found no model"
    examples = sorted(Path(sys.argv[2]).rglob("*.mp4"))
    prediction = classifier.predict(str(examples[0]), app.FAST)
    ours = sorted({m.__file__ for n, m in sys.modules.items() if n.split(".")[0] == "hf_tiktokactions"})
    print(json.dumps({"scores": prediction.scores, "location": classifier.location, "package_files": ours}))
    """
)


def test_export_space_writes_a_folder_that_runs_without_the_installed_package(tmp_path: Path) -> None:
    tiny_classifier(tmp_path / "model")
    space = tmp_path / "space"
    argv = ["export", "--model", str(tmp_path / "model"), "--output", str(tmp_path / "out")]
    assert hub_main([*argv, "--repo-id", "me/tiny", "--space", str(space), "--sampling-rate", "2"]) == 0

    assert {"app.py", "README.md", "requirements.txt", "hf_tiktokactions", "model"} <= {p.name for p in space.iterdir()}
    assert (space / "app.py").read_bytes() == (ROOT / "spaces" / "app.py").read_bytes()
    assert _names(space_requirements(space / "requirements.txt")) == _names(
        space_requirements(ROOT / "spaces" / "requirements.txt")
    )
    card = SpaceCard.load(space / "README.md")
    assert card.data.sdk == "gradio" and card.data.app_file == "app.py" and card.data.models == ["me/tiny"]
    assert (space / "model" / "model.safetensors").read_bytes() == (tmp_path / "out" / "model.safetensors").read_bytes()
    assert (space / "hf_tiktokactions" / "card_templates" / "model_card_template.md").is_file()

    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TORCH_THREADS": "1",
        "INFERENCE_DTYPE": "float32",
        "EXAMPLES_DIR": str(tmp_path / "examples"),
    }
    result = subprocess.run(
        [sys.executable, "-I", "-c", RUN_SPACE, str(space), str(tmp_path / "examples")],
        cwd=space, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["location"]).resolve() == (space / "model").resolve()  # MODEL_ID unset: the carried model
    assert len(report["scores"]) == 5 and 0 < sum(report["scores"].values()) <= 1.0 + 1e-6
    assert report["package_files"] and all(Path(f).resolve().is_relative_to(space) for f in report["package_files"])


def test_space_needs_a_classifier_and_an_empty_folder(tmp_path: Path) -> None:
    from hf_tiktokactions.hub.space import write_space

    tiny_classifier(tmp_path / "model")
    hub_main(["export", "--model", str(tmp_path / "model"), "--output", str(tmp_path / "out")])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep")
    with pytest.raises(ConfigError, match="not empty"):
        write_space(tmp_path / "out", tmp_path / "busy")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    config["architectures"] = ["VideoMAEv2ForPreTraining"]  # what a pre-trained export says
    (tmp_path / "out" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="needs a fine-tuned classifier"):
        write_space(tmp_path / "out", tmp_path / "space")


def test_overwrite_never_deletes_the_model_being_exported(tmp_path: Path, capsys) -> None:
    """export --model run/final --output-dir run --overwrite emptied the run, its final model included; --space
    above the export folder deleted the export it was about to copy, then ended in a traceback."""
    from hf_tiktokactions.cli_errors import run_cli

    tiny_classifier(tmp_path / "run" / "final")
    (tmp_path / "run" / "results.json").write_text("{}")
    argv = ["export", "--model", str(tmp_path / "run" / "final"), "--overwrite"]
    assert run_cli(hub_main, [*argv, "--output", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "--output-dir" in error and "holds the model" in error and "Traceback" not in error
    assert (tmp_path / "run" / "final" / "config.json").is_file() and (tmp_path / "run" / "results.json").is_file()
    export = tmp_path / "demo" / "export"
    assert run_cli(hub_main, [*argv, "--output", str(export), "--space", str(tmp_path / "demo")]) == 2
    assert "--space" in capsys.readouterr().err and (export / "config.json").is_file()
    assert (tmp_path / "run" / "final" / "config.json").is_file()
    # --space above the model being exported: this CLI emptied it, the model folder with it, and wrote the
    # Space's copy of the export in its place (hf-tiktokactions export refused); both refuse now
    (tmp_path / "run" / "final" / "training_args.bin").write_text("the run's own file")
    space_argv = [*argv, "--output", str(tmp_path / "export2"), "--space", str(tmp_path / "run")]
    assert run_cli(hub_main, space_argv) == 2
    assert "holds the model" in capsys.readouterr().err
    assert (tmp_path / "run" / "final" / "training_args.bin").is_file() and (
        tmp_path / "run" / "results.json"
    ).is_file()
