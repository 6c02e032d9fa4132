"""qaug: offline data augmentation for LLM fine-tuning datasets."""

__version__ = "0.1.0"

import os as _os

# qaug never talks to the network except in `qaug pull`, which lifts this for itself.
_os.environ["HF_HUB_OFFLINE"] = "1"
_os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
