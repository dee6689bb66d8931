"""data layer of hf_tiktokactions (see ../shared/DESIGN.md for the layering)."""

from hf_tiktokactions.data.readers import load_hmdb51, load_kinetics, load_ssv2, load_ucf101, load_videofolder  # noqa: E402
from hf_tiktokactions.data.synthetic import make_synthetic_actions  # noqa: E402
from hf_tiktokactions.data.decoding import BACKENDS, VideoInfo, VideoReader, open_video, probe_video, read_frames  # noqa: E402
from hf_tiktokactions.data.sampling import MultiView, dense_clip_indices, segment_indices, multiview_indices, multiview_clips  # noqa: E402
from hf_tiktokactions.data.transforms import (  # noqa: E402
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClipRandAugment,
    EvalTransform,
    FinetuneTrainTransform,
    MultiScaleCrop,
    VideoMixup,
    normalize_video,
    short_side_resize,
    spatial_crop,
)
from hf_tiktokactions.data.pretrain_dataset import PretrainVideoDataset, find_videos  # noqa: E402
from hf_tiktokactions.data.collate import PretrainCollator  # noqa: E402
