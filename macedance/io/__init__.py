"""Reading and writing media files: video (probe, decode, encode with a music track) and audio (decode, resample)."""
