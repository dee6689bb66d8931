"""data layer of hf_tiktokactions (see ../shared/DESIGN.md for the layering)."""

from hf_tiktokactions.data.readers import load_hmdb51, load_kinetics, load_ssv2, load_ucf101, load_videofolder  # noqa: E402
from hf_tiktokactions.data.synthetic import make_synthetic_actions  # noqa: E402
