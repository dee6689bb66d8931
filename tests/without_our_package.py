"""The first lines of a script run in a fresh interpreter in which ``import hf_tiktokactions`` fails, like a user who
only has torch + transformers: what exported folders must load in."""

BLOCK_OUR_PACKAGE = """
import importlib.abc, sys

class RefuseOurPackage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "hf_tiktokactions" or name.startswith("hf_tiktokactions."):
            raise ModuleNotFoundError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, RefuseOurPackage())
try:
    import hf_tiktokactions
    raise SystemExit("hf_tiktokactions could be imported; the test would prove nothing")
except ModuleNotFoundError:
    pass
"""
