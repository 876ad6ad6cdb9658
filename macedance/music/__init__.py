"""Music analysis: features and beats under named presets (:mod:`~macedance.music.presets`), analysed with a
content-hash cache and stored as music ``.npz`` files (:mod:`~macedance.music.analysis`)."""
