"""The ``kgqa`` command: a thin argparse layer over the package.

    kgqa demo                 train on the toy world, answer the seed questions, showing the work
                              (--pipeline: the traditional link-parse-execute pipeline instead)
    kgqa stats [KG]           load a knowledge graph (toy, metaqa, wc2014, pq-2h, pq-3h, sq-wikidata or a file)
                              and print its statistics and load time
    kgqa shard KG --parts N   split a graph's facts into N parts, one per process (kgqa.follow.distributed)
    kgqa train / eval / ask   the end-to-end model (:mod:`.train`)

:mod:`.main` holds the parser, ``stats`` and the error handling every command shares,
:mod:`.demo` the demo, :mod:`.train` training, evaluation and answering.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
