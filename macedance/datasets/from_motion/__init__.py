"""``macedance data render``: imported motions → the 3D-rendered subset of MA-Data.

Every motion (an imported AIST++/FineDance folder, or any folder of motion ``.npz`` files) is cut
into seeded 5–10 s windows; each window is drawn on a 3D character (:mod:`macedance.render`) from a
fixed level front camera, with its music muxed in, and written in the clip layout of ``data build``
plus the rendered video::

    videos/<clip>.mp4       the rendered clip (H.264 yuv420p, music as AAC)
    motions/<clip>.npz      the ground-truth motion, in the builder's world (camera-aligned, see below)
    keypoints/<clip>.npz    its projected SMPL-24 joints (``smpl24``, confidence 1 inside the frame)
    music/<clip>.npz        features, beats, tempo at --fps     audio/<clip>.wav   the clip's music
    reference/<clip>.jpg    the first rendered frame
    manifest.parquet  clips.jsonl  splits/  README.md (card)  render_report.json  .build/ (resume state)

World of the stored motion (the convention of ``data build``'s fits, so the two compare directly):
the source motion (y-up; z-up is converted) is turned about the vertical so that its mean facing
direction over the clip points at the camera (+z), then translated so that the pelvis of the clip's
first frame is at x = z = 0 and its lowest foot joint at y = 0. The camera is level and looks along
−z; its parameters are in the motion's ``meta["camera"]`` (:meth:`macedance.motion.camera.PinholeCamera.to_dict`).

Music is matched to each motion by file stem in ``--music-dir`` (searched recursively), trying in
order: the AIST++ music id (``mBR0`` … from the importer's ``music_id`` or the sequence name), the
sequence name recorded by the importer (``source_video``: FineDance's ``001``), the motion file's
stem. A motion without music is rejected (``no-music``) unless ``allow_silent``; the music is taken
to start with the motion's first frame, and a motion longer than its music is used up to the
music's end.

Resume, atomic writes and workers are those of ``data build`` (:mod:`macedance.datasets.curation`):
a source is finished when its state file is written after all its clip files; ``resume`` skips
finished sources; different options are refused; ``workers`` spawned processes share the cores.
"""

from macedance.datasets.from_motion.clips import face_camera, render_source
from macedance.datasets.from_motion.params import RENDER_VERSION, RenderParams
from macedance.datasets.from_motion.render import render_dataset
from macedance.datasets.from_motion.sources import find_motions, index_music, match_music, music_keys

__all__ = ["RENDER_VERSION", "RenderParams", "face_camera", "find_motions", "index_music", "match_music", "music_keys", "render_dataset",
           "render_source"]
