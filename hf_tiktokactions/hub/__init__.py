"""hub layer of hf_tiktokactions (see ../shared/DESIGN.md for the layering)."""
