"""The per-video curation stages, each a small callable with one job: probe, decode pass, scene cuts,
clip selection and writing, frame sampling, person detection. The runner decides where they run."""
