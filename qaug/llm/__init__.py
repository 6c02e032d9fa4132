"""The model side: GGUF files, chat templates, JSON-Schema constraints and engines."""
