"""The README's main command, ``hf-tiktokactions quickstart``, at a small size: every stage for real, then a rerun
that reuses them; and the ``convert`` subcommand's one-line errors."""

import dataclasses
import json
import os
import re
import runpy
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForVideoClassification

CONSOLE_SCRIPT = Path(sys.executable).parent / "hf-tiktokactions"
SMALL = [
    "--pretrain",
    "quick",  # the plumbing check: the default becomes `reference` once the package ships one
    "--pretrain-steps",
    "20",
    "--finetune-epochs",
    "2",
    "--labeled-clips-per-class",
    "4",
    "--pool-clips-per-class",
    "2",
    "--quiet",
]


def quickstart(output: Path) -> subprocess.CompletedProcess:
    command = [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "hf_tiktokactions"]
    return subprocess.run(
        [*command, "quickstart", "--output", str(output), *SMALL], capture_output=True, text=True, timeout=900
    )


def test_quickstart_runs_every_stage_then_reuses_them(tmp_path):
    output = tmp_path / "quickstart"
    result = quickstart(output)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads((output / "summary.json").read_text())
    stages = [stage["name"] for stage in summary["stages"]]
    assert stages == ["data", "curate", "pretrain", "finetune_pretrained", "finetune_scratch", "publish"]
    assert not any(stage["reused"] for stage in summary["stages"])
    for arm in ("pretrained", "scratch"):
        assert 0 <= summary[arm]["top1"] <= summary[arm]["top5"] <= 100 and summary[arm]["views"] == "2x3"
        assert round(summary[arm]["top1"], 2) == summary[arm]["top1"]  # as reference mode's (was 14.2857)
    curate = summary["stages"][1]["numbers"]
    assert curate["videos"] == 14 and curate.get("status_pass", 0) > 0
    assert (output / "curated" / "index").is_dir() and (output / "pretrain" / "final" / "model.safetensors").exists()
    for table_cell in ("stage", "finetune_scratch", "publish", "try it:", "bin/python spaces/app.py"):
        assert table_cell in result.stdout
    pretrain = summary["stages"][2]["numbers"]  # quick mode said "? epochs over 14 curated unlabeled videos"
    assert pretrain["epochs"] > 0 and f"{pretrain['epochs']} epochs over 14 curated" in result.stdout

    model = AutoModelForVideoClassification.from_pretrained(output / "model", trust_remote_code=True)
    card = (output / "model" / "README.md").read_text()
    assert model.config.num_labels == 7
    assert "synthetic videos" in card and "TikTok Research API" not in card  # what the quickstart's model saw
    with torch.no_grad():
        size = model.config.image_size
        assert model(torch.randn(1, model.config.num_frames, 3, size, size)).logits.shape == (1, 7)

    started = time.perf_counter()
    again = quickstart(output)
    assert again.returncode == 0, again.stderr[-4000:]
    rerun = json.loads((output / "summary.json").read_text())
    assert all(stage["reused"] for stage in rerun["stages"])
    assert rerun["pretrained"] == summary["pretrained"]
    assert time.perf_counter() - started < 60


def test_convert_subcommand_reports_a_missing_file_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "hf_tiktokactions", "convert", str(tmp_path / "missing.pth"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "missing.pth does not exist" in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------ one command-line surface over the Python API

ROOT = Path(__file__).resolve().parents[1]


def _help_of(argv: list[str], capsys) -> str:
    from hf_tiktokactions.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_every_step():
    from hf_tiktokactions.cli import STEPS

    result = subprocess.run(
        [sys.executable, "-m", "hf_tiktokactions", "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    expected = {"collect", "download", "curate", "stats", "push-index", "purge", "blur-faces", "pretrain"}
    expected |= {"finetune", "compare-init", "scaling-study", "convert", "export", "push", "space", "quickstart"}
    assert set(STEPS) == expected
    for step in expected:
        assert f"    {step} " in result.stdout or f"    {step}\n" in result.stdout, step


@pytest.mark.parametrize("step", sorted(__import__("hf_tiktokactions.cli", fromlist=["STEPS"]).STEPS))
def test_each_step_help_names_every_option_of_its_dataclass(step, capsys, monkeypatch):
    """The README promises every option with its help text: pretrain's --output_dir, --seed, --weight_decay, ...
    had none, so their defaults were not shown either, and pretrain, finetune, compare-init and scaling-study said
    nothing of what they do. A help text that names its default got a contradicting "(default: None)" after it."""
    from hf_tiktokactions.cli import STEPS, options_classes
    from hf_tiktokactions.option_help import description_of

    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping: a path stays whole
    help_text = _help_of([step, "--help"], capsys)
    flat = " ".join(help_text.split())
    classes = options_classes(STEPS[step])
    classes = classes if isinstance(classes, tuple) else (classes,)
    assert description_of(classes[0]) and " ".join(description_of(classes[0]).split()[:4]) in flat, step
    for cls in classes:
        for field in dataclasses.fields(cls):
            if not field.init:
                continue
            if cls.__module__.startswith("hf_tiktokactions"):
                assert field.metadata.get("help"), (step, field.name)
            if field.metadata.get("positional"):
                assert field.metadata["metavar"] in help_text, (step, field.name)
            else:
                assert f"--{field.name}" in help_text, (step, field.name)
                if field.metadata.get("help"):  # its help text, as argparse wraps it
                    assert field.metadata["help"].split()[0] in help_text, (step, field.name)
                text = " ".join(field.metadata.get("help", "").split())
                if cls.__module__.startswith("hf_tiktokactions") and "default" in text and text in flat:
                    assert f"{text} (default: None)" not in flat, (step, field.name)
    # a file the help points at is in the repository (export's "format in training/results_file.py" was not)
    for path in re.findall(r"(?<![\w./-])[\w.-]+(?:/[\w.-]+)+\.(?:py|md|yaml|csv)\b", flat):
        assert (ROOT / path).exists(), (step, path)


def test_both_spellings_and_the_old_names_give_the_same_options_on_a_data_step(tmp_path):
    from hf_tiktokactions.cli import parse_step_options

    hyphens = parse_step_options(
        "curate", ["--videos", "v", "--output-dir", "o", "--num-frames", "3", "--x264-preset", "veryfast"]
    )
    underscores = parse_step_options(
        "curate", ["--videos", "v", "--output_dir", "o", "--num_frames", "3", "--x264_preset", "veryfast"]
    )
    old_names = parse_step_options("curate", ["--videos", "v", "--output", "o", "--num-frames", "3"])
    assert hyphens == underscores and dataclasses.replace(old_names, x264_preset="veryfast") == hyphens
    assert hyphens.output_dir == Path("o") and hyphens.num_frames == 3
    assert (
        hyphens.curation_options().preset == "veryfast"
    )  # the recorded setting keeps its name in curation_config.json
    convert = parse_step_options("convert", ["a.pth", "out", "--preset", "vit-b", "--num-labels", "5"])
    assert (convert.model_preset, convert.num_labels, convert.output_dir) == ("vit-b", 5, "out")
    names = ("--quiet", "--no-progress", "--no_progress")
    quickstart = [parse_step_options("quickstart", [name]).quiet for name in names]
    assert quickstart == [True, True, True] and not parse_step_options("quickstart", []).quiet


@pytest.mark.parametrize(
    "argv, use",
    [
        (["curate", "--videos", "v", "--output-dir", "o", "--preset", "fast"], "use --x264-preset"),
        (["purge", "--output", "curated"], "use --index"),
        ([str(ROOT / "benchmarks" / "curation.py"), "--preset", "fast"], "use --x264-preset"),
        ([str(ROOT / "benchmarks" / "eval_throughput.py"), "--videos", "4"], "use --num-videos"),
        ([str(ROOT / "benchmarks" / "streaming_resume.py"), "--videos", "4"], "use --num-videos"),
        ([str(ROOT / "training" / "embedded_diagnostics.py"), "--output", "r.json"], "use --output-json"),
    ],
)
def test_an_old_name_that_means_another_thing_elsewhere_is_refused_with_the_name_to_use(argv, use, capsys, monkeypatch):
    """One name, one meaning: curate took --preset for the x264 preset (convert: the model size), purge --output for
    the index (elsewhere: the output folder), three benchmarks --videos for a count (elsewhere: where the videos
    are), embedded_diagnostics.py --output for a JSON file. Each is refused before anything runs, naming the option."""
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as exit_info:
        if argv[0].endswith(".py"):
            monkeypatch.setattr(sys, "argv", argv)
            monkeypatch.syspath_prepend(str(Path(argv[0]).parent))
            runpy.run_path(argv[0], run_name="__main__")
        else:
            from hf_tiktokactions.cli import main

            main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{argv[-2]} is no longer an option here: {use}" in error, error


def test_both_spellings_give_the_same_options_on_a_training_step():
    from hf_tiktokactions.cli import parse_step_options

    recipe = str(ROOT / "training" / "configs" / "pretrain_tiny_synthetic.yaml")
    hyphens = parse_step_options("pretrain", ["--config", recipe, "--output-dir", "o", "--num-frames", "8"])
    underscores = parse_step_options("pretrain", ["--config", recipe, "--output_dir", "o", "--num_frames", "8"])
    assert hyphens == underscores and hyphens.output_dir == "o" and hyphens.num_frames == 8
    finetune, training = parse_step_options("finetune", ["--output-dir", "f", "--model-preset", "vit-tiny"])
    assert training.output_dir == "f" and finetune.model_preset == "vit-tiny"


def _command_lines() -> list[tuple[str, list[str]]]:
    """Every command line of the package and the repository: (how it is run, where: a module with ``main(argv)``
    and the argv before ``--help``, or a script's path)."""
    from hf_tiktokactions.cli import STEPS

    lines = [(f"hf-tiktokactions {step}", ["hf_tiktokactions.cli", step]) for step in STEPS]
    hub = "hf_tiktokactions.hub.__main__"
    lines += [(f"python -m hf_tiktokactions.hub {command}", [hub, command]) for command in ("card", "dataset-card")]
    for module in ("convert", "data.synthetic.__main__", "testing.research_api_server"):
        lines.append((f"python -m hf_tiktokactions.{module.removesuffix('.__main__')}", [f"hf_tiktokactions.{module}"]))
    scripts = sorted(ROOT.glob("dataset_scripts/*.py")) + sorted(ROOT.glob("training/*.py"))
    scripts += sorted(ROOT.glob("benchmarks/*.py"))
    lines += [(f"python {path.relative_to(ROOT)}", [str(path)]) for path in scripts if "__main__" in path.read_text()]
    return lines


def _run_help(where: list[str], monkeypatch) -> None:
    """``--help`` of a module's ``main(argv)`` or of a script run as ``__main__``."""
    import importlib

    if where[0].endswith(".py"):
        monkeypatch.setattr(sys, "argv", [where[0], "--help"])
        monkeypatch.syspath_prepend(str(Path(where[0]).parent))  # a benchmark imports its neighbours
        runpy.run_path(where[0], run_name="__main__")
    else:
        importlib.import_module(where[0]).main([*where[1:], "--help"])


def _option_names(help_text: str) -> list[set[str]]:
    """The names of each option in ``--help`` printed at ``COLUMNS=1000`` (one line an option: names, then help)."""
    options = []
    for line in help_text.splitlines():
        if invocation := re.match(r"  (-\S.*?)(?:\s{2,}|$)", line):
            options.append(set(re.findall(r"--[\w-]+", invocation.group(1))))
    return options


def test_one_name_means_one_thing_on_every_command_line(capsys, monkeypatch):
    """An old name kept as an alias must not be another option's name on another command: curate's --preset (x264)
    was convert's --preset (model size), purge's --output (the index) everyone else's output folder. Two commands'
    options that share a name are one option there (the same names, give or take aliases)."""
    monkeypatch.setenv("COLUMNS", "1000")
    seen: dict[str, tuple[frozenset[str], str]] = {}  # a name -> the names of the first option with it, and where
    clashes = []
    for command, where in _command_lines():
        with pytest.raises(SystemExit):
            _run_help(where, monkeypatch)
        for names in _option_names(capsys.readouterr().out):
            option = frozenset(name.replace("_", "-") for name in names)
            for name in option:
                first, first_command = seen.setdefault(name, (option, command))
                if not (first <= option or option <= first):
                    clashes.append((name, first_command, sorted(first), command, sorted(option)))
    assert not clashes, clashes


@pytest.mark.parametrize("command, where", _command_lines(), ids=[line for line, _ in _command_lines()])
def test_every_command_line_accepts_both_spellings_of_each_option(command, where, capsys, monkeypatch):
    """One flag style everywhere: an option is accepted as --output-dir and --output_dir. `hub card` and `hub
    dataset-card` took only --repo-id, --model-name, --template-dir, --pretty-name (--repo_id: "unrecognized"), the
    synthetic set's generator, the fake Research API, embedded_diagnostics.py and the benchmarks only --num-frames."""
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: its names, two spaces, its help
    with pytest.raises(SystemExit) as exit_info:
        _run_help(where, monkeypatch)
    assert exit_info.value.code in (0, None), command
    names = set().union(*_option_names(capsys.readouterr().out))
    assert "--help" in names, command
    one_spelling = [name for name in names if {name.replace("_", "-"), "--" + name[2:].replace("-", "_")} - names]
    assert not one_spelling, (command, sorted(one_spelling))


@pytest.mark.parametrize(
    "step, line, says",
    [
        ("pretrain", "num_frames: [4, 8]", "num_frames takes one value, got [4, 8]"),
        ("finetune", "per_device_train_batch_size: 2.5", "per_device_train_batch_size: 2.5 is not a valid int"),
        ("finetune", "report_to: none", None),  # a list option given one string, as on the command line
        ("finetune", "num_train_epochs: 3", None),  # an integer where a float belongs
    ],
)
def test_a_recipe_value_of_the_wrong_type_is_named_in_one_line(tmp_path, capsys, step, line, says):
    from hf_tiktokactions.cli import parse_step_options, run_step

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(line + "\n")
    if says is None:
        options = parse_step_options(step, ["--config", str(recipe), "--output-dir", "o"])
        assert options is not None
        return
    assert run_step(step, ["--config", str(recipe), "--output-dir", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"error: {recipe}: {says}\n"


def test_an_unknown_option_is_named_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "hf_tiktokactions", "stats", "--index", str(tmp_path), "--output-dir", "x", "--bogus"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "--bogus" in result.stderr and "Traceback" not in result.stderr


def test_the_space_step_names_a_missing_app(tmp_path):
    from hf_tiktokactions.cli import main

    assert main(["space", "--app", str(tmp_path / "app.py")]) == 2


@pytest.mark.parametrize(
    "command, where", [line for line in _command_lines() if line[0].startswith("python -m ")], ids=str
)
def test_a_module_help_names_the_module_as_it_is_run(command, where, capsys, monkeypatch):
    """The fake Research API's usage line said "research_api_server.py", a file no user runs."""
    with pytest.raises(SystemExit):
        _run_help(where, monkeypatch)
    out = capsys.readouterr().out
    assert re.match(rf"usage: {re.escape(command)}\s", out), (command, out[:80])


def test_a_mistyped_local_path_is_named_not_asked_of_the_hub(tmp_path, capsys, monkeypatch):
    """A missing path that can only be local (its folder exists, it starts with ~, it has two slashes) was tried as
    a Hub repo id: the user read a Hub error (offline: a network error), and `space` served on it. An OWNER/NAME id
    still goes to the Hub (offline in the tests: the Hub's error, naming it), also when an OWNER/ folder is here. A
    bad input leaves no output folder."""
    from hf_tiktokactions.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "app.py").write_text("raise SystemExit('served')\n")  # what `space` would serve the model with
    cases = [
        (["space", "--model", str(tmp_path / "missing")], f"--model {tmp_path / 'missing'}: no such folder"),
        (["space", "--model", "runs/typo_dir", "--app", "app.py"], "--model runs/typo_dir: no such folder"),
        (["export", "--model", "runs/typo_dir", "--output-dir", "out"], "runs/typo_dir: no such model folder"),
        (["export", "--model", "~/models/x", "--output-dir", "out"], "~/models/x: no such model folder"),
        (["export", "--model", "runs/a/final", "--output-dir", "out"], "runs/a/final: no such model folder"),
        (["convert", "runs/typo_dir", "out"], "checkpoint runs/typo_dir: no such file or folder, and as a Hub id"),
        (["pretrain", "--data", "runs/typo_dir", "--output_dir", "out"], "--data runs/typo_dir: no such file"),
        (["finetune", "--dataset", "runs/typo_dir", "--output_dir", "out"], "--dataset runs/typo_dir: no such folder"),
        (["compare-init", "--pretrain_data", "runs/typo_dir", "--output_dir", "out"], "--data runs/typo_dir: no such"),
        (["scaling-study", "--pretrain_data", "runs/typo_dir", "--output_dir", "out"], "--data runs/typo_dir: no such"),
        (["convert", "owner/name", "out"], "cannot get owner/name from the Hub"),
        (["convert", "owner/name@v1.0", "out"], "checkpoint owner/name@v1.0: a revision (@v1.0) is not read here"),
        (["export", "--model", "owner/name", "--output-dir", "out"], "owner/name: cannot load a VideoMAE V2"),
    ]  # fmt: skip
    for argv, says in cases:
        assert main(argv) == 2, argv  # returns: nothing was served
        err = capsys.readouterr().err
        assert err.startswith(f"error: {says}") and err.count("\n") == 1, (argv, err)
        # pretrain, finetune, compare-init and scaling-study made their --output_dir before reading their data
        assert not (tmp_path / "out").exists(), argv
    # A Hub id whose OWNER/ is a folder here too is asked of the Hub (here its cache): it was refused as missing
    import huggingface_hub.constants
    from test_convert_released_checkpoints import hub_cache_with

    (tmp_path / "owner").mkdir()
    hub_cache_with(tmp_path / "hub", "owner/files", {"notes.txt": tmp_path / "app.py"})
    hub_cache_with(tmp_path / "hub", "owner/name", {"config.json": tmp_path / "app.py"})
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert main(["convert", "owner/files", "out"]) == 2
    assert capsys.readouterr().err.startswith("error: owner/files is not a model folder (no config.json)")
    monkeypatch.setattr(os, "environ", os.environ.copy())  # what space sets for its app
    with pytest.raises(SystemExit, match="served"):
        main(["space", "--model", "owner/name", "--app", "app.py"])


def test_the_python_api_curates_with_an_options_dataclass(tmp_path, capsys):
    from hf_tiktokactions.data.synthetic import make_synthetic_actions
    from hf_tiktokactions.steps import CurateOptions, curate

    videos = make_synthetic_actions(
        tmp_path / "videos", clips_per_class=1, size=64, num_frames=64, fps=15, progress=False
    )
    result = curate(
        CurateOptions(
            videos=videos,
            output_dir=tmp_path / "curated",
            detector="none",
            x264_preset="ultrafast",
            workers=1,
            quiet=True,
        )
    )
    assert result.inputs == 7 and (tmp_path / "curated" / "index").is_dir()
    assert "7 curated" in capsys.readouterr().out
    assert json.loads((tmp_path / "curated" / "curation_config.json").read_text())["preset"] == "ultrafast"


def test_bad_inputs_end_in_one_line_naming_them(tmp_path, capsys):
    """Each of these ended in a traceback (FileExistsError, UnicodeDecodeError, ValueError, IndexError)."""
    from official_checkpoints import OfficialVisionTransformer
    from video_files import write_test_video

    from hf_tiktokactions.cli import main

    videos = tmp_path / "videos"
    video = write_test_video(videos / "clip.mp4", 8, 32, 32)
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    binary = tmp_path / "list.bin"
    binary.write_bytes(b"\x00\xff\xfe\x80")
    text_checkpoint = tmp_path / "model.pth"
    text_checkpoint.write_text("t hello\n")
    missing_list = tmp_path / "list.txt"  # relative to its folder: "20 videos in a row could not be decoded"
    missing_list.write_text("videos/typo.mp4\nclip.mp4\n")
    odd_width = tmp_path / "odd_width.pth"  # no preset is 96 wide
    torch.save({"module": OfficialVisionTransformer(dim=96, heads=3).state_dict()}, odd_width)
    cases = [
        (["curate", "--videos", str(videos), "--output", str(a_file)], f"--output-dir {a_file}: a file is in the way"),
        (["curate", "--videos", str(videos), "--output-dir", str(tmp_path / "typo"), "--x264-preset", "superfst"],
         "--x264-preset 'superfst' is not an x264 preset; choose one of ultrafast, superfast"),
        (["curate", "--videos", str(binary), "--output", str(tmp_path / "c")], f"--videos {binary}: not a list file"),
        (["pretrain", "--data", str(videos), "--output_dir", str(a_file)], f"--output_dir {a_file}: a file is in"),
        (["pretrain", "--data", str(videos), "--output_dir", str(tmp_path / "p"), "--model_preset", "vit-zzz"],
         "--model_preset: unknown preset 'vit-zzz'"),
        (["pretrain", "--data", str(missing_list), "--output_dir", str(tmp_path / "p")],
         f"--data {missing_list}: none of the first 2 files it lists exists ('{tmp_path}/videos/typo.mp4', ...)"),
        (["pretrain", "--data", str(videos), "--output_dir", str(tmp_path / "p"), "--decode_backend", "torchcodc"],
         "--decode_backend 'torchcodc': choose one of decord, torchcodec, pyav"),  # a traceback in a loader worker
        (["convert", str(text_checkpoint), str(tmp_path / "converted")], f"cannot read checkpoint {text_checkpoint}"),
        (["convert", str(odd_width), str(tmp_path / "odd")],
         "cannot infer the number of heads for hidden size 96; pass --model-preset\n"),  # not the old name --preset
    ]  # fmt: skip
    for argv, says in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f"error: {says}") and err.count("\n") == 1, (argv, err)
    # one video file is a list of one
    assert main(["curate", "--videos", str(video), "--output", str(tmp_path / "one"), "--detector", "none"]) == 0
    assert [path.name for path in (tmp_path / "one" / "metadata").glob("*.json")] == ["clip.json"]


def test_a_missing_optional_extra_is_named_with_its_install_line(tmp_path, capsys, monkeypatch):
    """curate without the curation extra rejected every video as an "internal error" (ModuleNotFoundError) and
    recorded it, so the rerun after installing it passed them over; space without gradio ended in a traceback."""
    from video_files import write_test_video

    from hf_tiktokactions.cli import main

    videos = tmp_path / "videos"
    write_test_video(videos / "clip.mp4", 8, 32, 32)
    monkeypatch.setitem(sys.modules, "scenedetect", None)  # as if not installed
    argv = ["curate", "--videos", str(videos), "--output-dir", str(tmp_path / "c"), "--detector", "none"]
    assert main([*argv, "--workers", "1"]) == 2
    assert "scenedetect" in capsys.readouterr().err.split("pip install 'hf-tiktokactions[curation]'")[0]
    assert not (tmp_path / "c" / "metadata").exists()
    monkeypatch.setitem(sys.modules, "gradio", None)
    assert main(["space", "--model", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err
        == "error: the Space needs the optional package gradio: pip install 'hf-tiktokactions[demo]'\n"
    )


def test_a_step_refuses_a_folder_another_step_wrote(tmp_path, capsys):
    """pretrain into a fine-tuning run replaced its final/ while its results.json kept describing the classifier;
    finetune into a pre-training run, curate into either, pretrain into a curation, the quickstart into a folder of
    the user's: all exited 0."""
    from video_files import write_test_video

    from hf_tiktokactions.cli import main

    videos = tmp_path / "videos"
    write_test_video(videos / "clip.mp4", 8, 32, 32)
    curation, pretraining, finetuning = tmp_path / "curated", tmp_path / "pretrain", tmp_path / "finetune"
    for folder in (curation, pretraining, finetuning):
        folder.mkdir()
    (curation / "curation_config.json").write_text("{}")
    (pretraining / "run_config.json").write_text(json.dumps({"job": "pretrain", "args": {}}))
    (finetuning / "run_config.json").write_text(json.dumps({"args": {}, "training_args": {}}))  # before "job"
    cases = [
        (["pretrain", "--data", str(videos), "--output_dir", str(finetuning)], "a finetune run"),
        (["pretrain", "--data", str(videos), "--output_dir", str(curation)], "a curate run"),
        (["finetune", "--dataset", "videofolder", "--data_root", str(videos), "--output_dir", str(pretraining)],
         "a pretrain run"),
        (["curate", "--videos", str(videos), "--output", str(pretraining)], "a pretrain run"),
    ]  # fmt: skip
    for argv, says in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"holds the outputs of {says}" in err and err.count("\n") == 1, (argv, err)
    # the quickstart wrote into any folder, replacing its model/ and space/ (exit 0; a rerun in its own folder resumes:
    # test_quickstart_runs_every_stage_then_reuses_them)
    mine = tmp_path / "mine"
    (mine / "model").mkdir(parents=True)
    (mine / "model" / "weights.bin").write_text("mine")
    for folder in (mine, pretraining):  # a user's folder, another step's
        assert main(["quickstart", "--output-dir", str(folder), "--pretrain", "quick", "--quiet"]) == 2, folder
        err = capsys.readouterr().err
        assert err.startswith(f"error: --output-dir {folder} holds files no quickstart wrote ("), err
        assert err.count("\n") == 1, err
    assert [path.name for path in mine.rglob("*")] == ["model", "weights.bin"]


def test_the_readme_documents_the_python_function_and_options_of_every_step():
    """README's table: each step's row names the ``hf_tiktokactions.steps`` function and options class the
    subcommand itself calls, so the documented Python API is the command's own."""
    import hf_tiktokactions.steps as steps
    from hf_tiktokactions.cli import STEPS, options_classes

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, step in STEPS.items():
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"README's Python API table has no row for {name}"
        function, classes = step.function.split(":")[1], options_classes(step)  # the function is not imported: slow
        assert function in steps.__all__ and f"`{function}" in row, (name, row)
        for options in classes if isinstance(classes, tuple) else (classes,):
            shown = f"transformers.{options.__name__}" if options.__module__.startswith("transformers") else None
            assert shown or getattr(steps, options.__name__) is options, (name, options)
            assert f"`{shown or options.__name__}`" in row, (name, row)
