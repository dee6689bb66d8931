"""The layering rules of docs/ARCHITECTURE.md, checked on the source: which layer may import which.

Data flows one way (collection -> curation -> index -> data -> training -> hub -> spaces); a lower layer never
imports a higher one, the model files stay shippable as Hub remote code, and product code never imports the
test doubles of ``hf_tiktokactions.testing``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hf_tiktokactions"
# the small shared modules every layer may use
COMMON = {
    "__init__",
    "errors",
    "atomic_files",
    "layout",
    "resources",
    "display_rotation",
    "output_guard",
    "machine",
    "redaction",
    "video_streams",
    "hub_unreachable",
    "option_help",
}
# layer -> the other layers it may import (besides COMMON); a layer absent here may import anything but `testing`
ALLOWED = {
    "modeling": set(),
    "collection": set(),
    "data": {"modeling"},
    "inference": {"modeling", "data"},
    "curation": {"collection", "data"},
    "training": {"modeling", "data", "inference"},
    "hub": {"modeling", "data", "training", "curation", "collection", "cli_errors", "inference"},
}
# the files `hub export` ships as remote code: they may import only each other
REMOTE_CODE = ("configuration_videomaev2", "modeling_videomaev2", "masking", "video_processing_videomaev2")


def _imports(path: Path) -> set[str]:
    """The ``hf_tiktokactions...`` modules ``path`` imports, relative imports resolved."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("hf_tiktokactions")}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_imports_only_what_its_layer_may(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    imported = {_layer(name) for name in _imports(path)} - {own}
    imported = {layer for layer in imported if (PACKAGE / layer).is_dir() or (PACKAGE / f"{layer}.py").is_file()}
    if own != "testing":
        assert "testing" not in imported, f"{path}: product code imports the test doubles"
    if own in ALLOWED:
        # a layer's __main__.py is a command line, not library code: it may run steps through the command surface
        entry_point = {"cli", "steps"} if path.name == "__main__.py" else set()
        may = ALLOWED[own] | COMMON | entry_point
        assert imported <= may, f"{path} imports {sorted(imported - may)}"


def test_the_model_files_are_self_contained_remote_code():
    shipped = {f"hf_tiktokactions.modeling.{name}" for name in REMOTE_CODE}
    for name in REMOTE_CODE:
        modules = {m for m in _imports(PACKAGE / "modeling" / f"{name}.py") if m in shipped or m.count(".") == 2}
        assert modules <= shipped, (
            f"{name}.py imports {sorted(modules - shipped)}: it would not load as Hub remote code"
        )


# Accelerate's private state: resetting or rewriting it by hand breaks with any Accelerate release
PRIVATE_ACCELERATE = {"_shared_state", "_reset_state", "_known_attrs"}
PRODUCT_DIRS = ("hf_tiktokactions", "training", "dataset_scripts", "spaces", "benchmarks")


def _product_files():
    """The product's Python files (not the tests) but ``layout.py``, which names what the others must not."""
    for folder in PRODUCT_DIRS:
        yield from (path for path in sorted((PACKAGE.parent / folder).rglob("*.py")) if path != PACKAGE / "layout.py")


def _product_nodes():
    """(where, node) for every syntax node of :func:`_product_files`, ``where`` = path:line."""
    for path in _product_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            yield f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}", node


def test_product_code_touches_no_private_accelerate_state():
    found = [
        f"{where}: {node.attr}"
        for where, node in _product_nodes()
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE_ACCELERATE
    ]
    assert found == [], "use Accelerate's public API (PartialState().attribute), not its private state"


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string constant in ``path`` that is not a docstring (help texts included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_only_layout_spells_the_file_names_of_an_output_folder():
    from hf_tiktokactions import layout

    # file names (a dot after the first character): ".partial" is a scratch folder, named so in several places
    names = {
        value for key, value in vars(layout).items() if key.isupper() and isinstance(value, str) and "." in value[1:]
    }
    assert {"manifest.jsonl", "videos.jsonl", "curation_config.json", "run_config.json", "mode.json"} <= names
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
        for path in _product_files()
        for line, text in _code_strings(path)
        if text in names
    ]
    assert found == [], "import the name from hf_tiktokactions/layout.py instead of spelling it again"


def test_only_layout_spells_the_folders_of_an_output_folder():
    from hf_tiktokactions import layout

    # "index" and "videos" also name other folders (the experiments' synthetic stand-in for an index, say)
    folders = {layout.CLIPS_DIR, layout.METADATA_DIR, layout.PURGE_LOG_DIR, layout.FINAL_MODEL_DIR}
    folders |= {layout.CHECKPOINTS_DIR, layout.RECONSTRUCTIONS_DIR, layout.QUICKSTART_STAGES_DIR}
    found = [
        f"{where}: {ast.unparse(node)}"
        for where, node in _product_nodes()
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div)
        and isinstance(node.right, ast.Constant)
        and node.right.value in folders
    ]
    assert found == [], "join with the name from hf_tiktokactions/layout.py (CLIPS_DIR, FINAL_MODEL_DIR, ...)"


ARCHITECTURE = PACKAGE.parent / "docs" / "ARCHITECTURE.md"


def _cited_python_files() -> set[str]:
    """The ``.py`` paths docs/ARCHITECTURE.md names in backticks, with a leading ``hf_tiktokactions/`` dropped."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    return {name.removeprefix("hf_tiktokactions/") for name in re.findall(r"`([\w./]+\.py)`", text)}


def test_architecture_names_every_module():
    cited = _cited_python_files()
    modules = {path.relative_to(PACKAGE).as_posix() for path in SOURCES if path.name != "__init__.py"}
    assert sorted(modules - cited) == [], "place these modules in docs/ARCHITECTURE.md (the module map)"


def test_every_file_architecture_names_exists():
    root = PACKAGE.parent
    cited = _cited_python_files()
    missing = sorted(name for name in cited if not (root / name).is_file() and not (PACKAGE / name).is_file())
    assert missing == [], "docs/ARCHITECTURE.md names files that are not in the repository"


THIN_SCRIPTS = sorted((PACKAGE.parent / "dataset_scripts").glob("*.py")) + sorted(
    path for path in (PACKAGE.parent / "training").glob("*.py") if path.name != "embedded_diagnostics.py"
)


@pytest.mark.parametrize("path", THIN_SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_step_scripts_only_call_the_command_surface(path):
    assert _imports(path) == {"hf_tiktokactions.cli", "hf_tiktokactions.cli.run_step"}, (
        f"{path.name} may import only hf_tiktokactions.cli.run_step: a script holds no logic of its own"
    )


def test_no_python_caller_builds_a_command_line_to_parse():
    """Python callers pass options dataclasses (``recipe_options(PretrainArguments, ..., max_steps=20)``), never an
    argv list such as ``["--max_steps", "20"]`` parsed again."""
    found = [
        where
        for where, node in _product_nodes()
        if isinstance(node, ast.List)
        and node.elts
        and isinstance(node.elts[0], ast.Constant)
        and str(node.elts[0].value).startswith("--")
    ]
    assert found == [], "build the options dataclass (recipe_options / the step's options class) instead"


def test_the_layer_table_of_architecture_is_the_one_checked_here():
    """docs/ARCHITECTURE.md's table (layer, package, may import) says what ``ALLOWED`` and ``COMMON`` enforce."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| layer | package |"))
    assert set(re.findall(r"`(\w+)`", header)) == COMMON - {"__init__"}
    table = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`hf_tiktokactions/"):
            layer = cells[1].strip("`").removeprefix("hf_tiktokactions/").strip("/").removesuffix(".py")
            table[layer] = set() if cells[2] == "nothing of ours" else {name.strip() for name in cells[2].split(",")}
    assert table == ALLOWED
