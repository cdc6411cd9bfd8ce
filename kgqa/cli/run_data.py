"""The questions a saved model was trained and tested on, found again from what its checkpoint
records: ``kgqa eval`` evaluates on them and ``kgqa explore`` lists them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .args import UsageError

if TYPE_CHECKING:
    from ..datasets import QAExample
    from ..qa import QASystem

__all__ = ["recorded_split"]


def recorded_split(system: QASystem, checkpoint: str | Path, split: str = "test",
                   dataset: str | None = None) -> tuple[list[QAExample], str]:
    """``(questions, dataset name)``: the ``split`` of the dataset the model at ``checkpoint`` was
    trained on — read again with the options recorded at training time (your own files from their
    recorded paths) — or of the registered ``dataset`` given instead. The dataset's graph must be
    the checkpoint's, and a recorded test split must read back identical; else a
    :class:`UsageError` says what differs."""
    from ..checkpoint import check_kg, resolve_checkpoint
    from ..datasets import DATASETS, load_dataset, load_user

    folder = resolve_checkpoint(checkpoint)
    run = system.config  # the checkpoint's config.json, read once
    origin = (run.data or {}).get("origin")
    name = dataset or run.dataset
    if dataset is None and origin and origin.get("loader") == "user":
        options = {k: origin[k] for k in ("add_inverses", "split", "seed", "on_duplicate", "dedupe", "grouped")
                   if k in origin}
        data = load_user(origin["kg"], origin["questions"], name=name, **options)
    elif dataset is None and origin and origin.get("loader") == "registry":
        data = load_dataset(origin["name"], **origin.get("options", {}))  # the options it was trained with
    elif name in DATASETS:
        data = load_dataset(name)
    else:
        raise UsageError(f"{folder}: trained on your own files ({name!r}), and the checkpoint does not record "
                         "where they are; pass --questions FILE (questions on the checkpoint's graph)")
    check_kg(run.to_json(), data.kg, folder)  # the dataset's graph must be the one the model was trained on
    examples = getattr(data, split)
    if split == "test" and dataset is None and run.data is not None:
        from ..run_record import data_fingerprint

        if data_fingerprint(examples, ()) != run.data.get("test"):
            raise UsageError(f"{folder}: the {name!r} test split read now differs from the one recorded at "
                             "training time (the question file or the split changed)")
    return list(examples), name
