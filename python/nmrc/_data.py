"""Where nmrc's data live: the folder with molecules/ and sequences/ (``nmrc.data_dir()``)."""
from __future__ import annotations

import pathlib

from . import _location


def data_dir() -> pathlib.Path:
    """The folder that holds nmrc's ``molecules/`` and ``sequences/`` (molecule files, pulse,
    acquisition, theory and experiment programs): ``/usr/share/nmrc`` for the Debian package
    (the installed data folder, found relative to this package, so another install prefix works
    too), or the source tree when nmrc is imported from a build tree
    (``PYTHONPATH=build/python``). Examples::

        mol = nmrc.load_molecule(nmrc.data_dir() / "molecules" / "crotonic_acid.yaml")
        run = nmrc.theory(nmrc.data_dir() / "sequences" / "heat_flow" / "fig3.yaml")

    Raises FileNotFoundError when the folder (or its molecules/) is missing: a broken install.
    """
    here = pathlib.Path(__file__).resolve().parent
    folder = (here / _location.DATA_DIR).resolve()
    if not (folder / "molecules").is_dir():
        raise FileNotFoundError(f"nmrc's data folder {folder} has no molecules/: a broken install "
                                "(the Debian package puts it in /usr/share/nmrc)")
    return folder
