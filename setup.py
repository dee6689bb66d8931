"""Only what pyproject.toml cannot say: the recipes (training/configs/) and the card templates (model_cards/)
keep their place at the top of the repository and ship inside the package (see hf_tiktokactions/resources.py)."""

from setuptools import find_packages, setup

SHIPPED = {
    "hf_tiktokactions.recipes": "training/configs",
    "hf_tiktokactions.card_templates": "model_cards",
    "hf_tiktokactions.space": "spaces",  # the Gradio Space's sources, for `hub export --space` (hub/space.py)
}

setup(packages=find_packages(include=["hf_tiktokactions", "hf_tiktokactions.*"]) + list(SHIPPED), package_dir=SHIPPED)
