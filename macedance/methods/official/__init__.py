"""Published methods run from their released checkpoints, proven equal to their original code: the checkpoint
reader (:mod:`.checkpoint`: restricted unpickler, ``.7z``), the method runners (:mod:`.mace`, :mod:`.edge`), their
metadata and benchmark adapter (:mod:`.released`), weight entries for ``weights import`` (:mod:`.weights`), music
features (:mod:`.features`) and the official ``.pkl`` output layout (:mod:`.output`). The networks and samplers
are in :mod:`macedance.models.official`."""
