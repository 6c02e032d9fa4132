"""Augmentation methods: the contract in base.py, the built-ins listed in catalog.py."""
