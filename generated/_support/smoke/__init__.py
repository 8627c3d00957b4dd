"""Smoke-test modules that run inside built images.

Every module in this folder uses only the standard library (plus torch and flash_attn,
imported lazily), so the folder can be copied into an image and run as scripts.
"""
