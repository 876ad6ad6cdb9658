"""Reading and writing media files: video (probe, decode, encode with a music track) and audio (decode, resample); reading the
motion files published methods write (:mod:`macedance.io.motion_formats`)."""
