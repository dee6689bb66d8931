"""The hub layer (docs/ARCHITECTURE.md): cards and publishing.

* ``cards``: model cards (YAML + model-index from the ``results.json`` fine-tuning writes, whose format is
  ``training/results_file.py``).
* ``dataset_card``: the curated index's dataset card (used by ``stats.py``, ``push_index`` and ``dataset-card``).
* ``processor_config``: ``video_preprocessor_config.json`` / ``preprocessor_config.json`` for a model.
* ``export``: the Hub folder (safetensors + shipped modeling code for ``trust_remote_code=True``) of a fine-tuned
  classifier or a pre-trained model; ``pretraining_run``: what a pre-training run folder puts on the card.
* ``space``: a Gradio Space folder that installs as it is (public requirements, the package's source carried).
* ``push``: export + upload (token: ``HF_TOKEN``, else the one ``hf auth login`` stored).

Command line: ``python -m hf_tiktokactions.hub card|dataset-card|export|push --help``.
"""
