"""The hub layer (docs/ARCHITECTURE.md): cards and publishing.

* ``results``: the evaluation results file format (written by fine-tuning, read by the cards).
* ``cards``: model card (YAML + model-index from results files) and the pre-training index's dataset card.
* ``processor_config``: ``video_preprocessor_config.json`` / ``preprocessor_config.json`` for a model.
* ``export``: the Hub folder (safetensors + shipped modeling code for ``trust_remote_code=True``).
* ``push``: export + upload (``HF_TOKEN`` from the environment).

Command line: ``python -m hf_tiktokactions.hub card|dataset-card|export|push --help``.
"""
