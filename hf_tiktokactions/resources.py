"""Files that ship with the package: the YAML recipes and the card templates.

In a checkout they live at the top of the repository (``training/configs/``, ``model_cards/``); a wheel carries
them inside the package (``hf_tiktokactions/recipes/``, ``hf_tiktokactions/card_templates/``, mapped in
``setup.py``), so a ``pip install`` without the repository still finds the recipes and the card templates.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent
CHECKOUT = _CHECKOUT  # the repository root, when the package runs from a checkout
_PLACES = {
    "recipes": ("recipes", "training/configs"),
    "card_templates": ("card_templates", "model_cards"),
    "space": ("space", "spaces"),  # app.py, README.md, requirements.txt of the Gradio Space (hub/space.py)
}


def shipped_dir(kind: str) -> Path:
    """The folder of ``kind`` ("recipes", "card_templates" or "space"): the installed package's, else the checkout's."""
    inside, in_checkout = _PLACES[kind]
    installed = _PACKAGE / inside
    return installed if installed.is_dir() else _CHECKOUT / in_checkout


def recipe(name: str) -> Path:
    """A shipped recipe by file name, e.g. ``recipe("pretrain_tiny_synthetic.yaml")``.

    Raises:
        ConfigError: no such recipe (the message lists the ones there are).
    """
    path = shipped_dir("recipes") / name
    if not path.is_file():
        known = sorted(p.name for p in shipped_dir("recipes").glob("*.yaml"))
        raise ConfigError(f"recipe {name!r} not found in {path.parent}; shipped recipes: {', '.join(known) or 'none'}")
    return path
