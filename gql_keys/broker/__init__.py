"""Publish/subscribe seam for key activity events."""
