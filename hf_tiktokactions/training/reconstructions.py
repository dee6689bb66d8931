"""Pictures of what pre-training learns: original, masked and reconstructed frames of one clip."""

from __future__ import annotations

import numpy as np
import torch

from ..modeling.modeling_videomaev2 import IMAGENET_MEAN, IMAGENET_STD, patchify, unpatchify

GREY = 0.5


@torch.no_grad()
def reconstruction_grid(
    model, pixel_values: torch.Tensor, bool_masked_pos: torch.Tensor, decoder_masked_pos: torch.Tensor
) -> np.ndarray:
    """Rows: original, what the encoder sees, original where visible + prediction where masked and decoded.

    Args:
        model: a ``VideoMAEv2ForPreTraining``.
        pixel_values: (1, T, C, H, W), ImageNet-normalised. Masks: bool (1, N).

    Returns:
        uint8 (3 * H, T * W, 3). Tokens neither visible nor decoded stay grey in the last row.
    """
    config = model.config
    was_training = model.training
    model.eval()
    logits = (
        model(pixel_values, bool_masked_pos=bool_masked_pos, decoder_masked_pos=decoder_masked_pos).logits[0].float()
    )
    model.train(was_training)

    mean = pixel_values.new_tensor(IMAGENET_MEAN).view(1, 1, 3, 1, 1)
    std = pixel_values.new_tensor(IMAGENET_STD).view(1, 1, 3, 1, 1)
    video = (pixel_values.float() * std + mean).clamp(0, 1)
    patches = patchify(video, config.patch_size, config.tubelet_size)[0]  # (N, t*p*p, C)
    decoded = (~decoder_masked_pos[0]).nonzero().squeeze(1)
    prediction = logits.view(len(decoded), *patches.shape[1:])
    if config.norm_pix_loss:
        kept = patches[decoded]
        prediction = prediction * (kept.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6) + kept.mean(
            dim=-2, keepdim=True
        )
    visible = ~bool_masked_pos[0]
    masked_view = torch.where(visible[:, None, None], patches, torch.full_like(patches, GREY))
    reconstruction = masked_view.clone()
    predicted_and_masked = bool_masked_pos[0][decoded]
    reconstruction[decoded[predicted_and_masked]] = prediction[predicted_and_masked].clamp(0, 1)

    rows = [unpatchify(p.flatten(1)[None], config)[0] for p in (patches, masked_view, reconstruction)]  # (T, C, H, W)
    grid = torch.cat([torch.cat(list(row), dim=-1) for row in rows], dim=-2)  # (C, 3H, T*W)
    return (grid.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
