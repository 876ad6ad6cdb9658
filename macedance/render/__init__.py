"""Rendering motions to images and videos."""
