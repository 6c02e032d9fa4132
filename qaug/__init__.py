"""qaug: offline data augmentation for LLM fine-tuning datasets."""

__version__ = "0.1.0"
