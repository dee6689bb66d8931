"""VideoMAE V2 models in transformers style, registered with the Auto classes.

``modeling_videomaev2.py``, ``configuration_videomaev2.py`` and ``masking.py`` import nothing else of this
package, so they can be shipped to the Hub as custom code.
"""

from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, AutoModelForVideoClassification

from .configuration_videomaev2 import VideoMAEv2Config
from .masking import decoder_mask, draw_masks, running_cell_mask, tube_mask
from .modeling_videomaev2 import (
    VideoMAEv2ForPreTraining,
    VideoMAEv2ForPreTrainingOutput,
    VideoMAEv2ForVideoClassification,
    VideoMAEv2Model,
    VideoMAEv2PreTrainedModel,
    patchify,
    reconstruction_target,
    unpatchify,
)

AutoConfig.register(VideoMAEv2Config.model_type, VideoMAEv2Config, exist_ok=True)
AutoModel.register(VideoMAEv2Config, VideoMAEv2Model, exist_ok=True)
AutoModelForPreTraining.register(VideoMAEv2Config, VideoMAEv2ForPreTraining, exist_ok=True)
AutoModelForVideoClassification.register(VideoMAEv2Config, VideoMAEv2ForVideoClassification, exist_ok=True)

__all__ = [
    "VideoMAEv2Config",
    "VideoMAEv2Model",
    "VideoMAEv2PreTrainedModel",
    "VideoMAEv2ForPreTraining",
    "VideoMAEv2ForPreTrainingOutput",
    "VideoMAEv2ForVideoClassification",
    "decoder_mask",
    "draw_masks",
    "patchify",
    "reconstruction_target",
    "running_cell_mask",
    "tube_mask",
    "unpatchify",
]
