#!/usr/bin/env python3
"""Writes the golden TopSpin files of tests/data/bruker/ from the format rules alone (run once;
the files are committed). Rules (docs/bruker.md): fid = interleaved real/imaginary values,
int32 (DTYPA 0) or float64 (DTYPA 2), little (BYTORDA 0) or big (BYTORDA 1) endian, stored
value x 2^NC = signal, each FID padded with zeros to a multiple of 1024 bytes."""
import cmath
import math
import struct
from pathlib import Path

here = Path(__file__).parent


def pad(b):
    return b + b"\0" * ((-len(b)) % 1024)


# 1. nmrc's own dataset (what write_bruker_dataset must produce byte for byte): 4 points
#    (0.125, -0.25), ..., (0.875, -1.0); largest |value| 1 -> NC = ceil(log2 1) - 29 = -29.
g = here / "golden_expno"
g.mkdir(exist_ok=True)
values = []
for j in range(4):
    values += [0.125 + 0.25 * j, -0.25 - 0.25 * j]
ints = [round(v * 2**29) for v in values]
(g / "fid").write_bytes(pad(struct.pack("<8i", *ints)))
sw = 1000.0
sfo1 = 100.0 + 2500.0 * 1e-6
(g / "acqus").write_text(
    "##TITLE= Parameter file, nmrc 0.1.0\n"
    "##JCAMPDX= 5.0\n"
    "##DATATYPE= Parameter Values\n"
    "##NPOINTS= 1\t$$ modification sequence number\n"
    "##ORIGIN= nmrc\n"
    "##OWNER= nmrc\n"
    "$$ 2026-11-30 09:00:00.000 +0000  nmrc\n"
    "$$ golden_expno/acqus\n"
    "##$AQ_mod= 3\n"
    "##$BF1= 100\n"
    "##$BYTORDA= 0\n"
    "##$D= (0..63)\n"
    # D: a line takes values while it is shorter than 70 characters: "0 1.5 " and 32 x "0 "
    # make 70 characters (34 values), the remaining 30 values follow.
    "0 1.5 " + "0 " * 32 + "\n" + "0 " * 30 + "\n"
    "##$DECIM= 1\n"
    "##$DIGMOD= 1\n"
    "##$DS= 0\n"
    "##$DSPFVS= 20\n"
    "##$DTYPA= 0\n"
    "##$GRPDLY= 0\n"
    "##$NC= -29\n"
    "##$NS= 4\n"
    "##$NUC1= <13C>\n"
    "##$O1= 2500\n"
    "##$PULPROG= <nmrc_test>\n"
    "##$RECPH= 0\n"
    "##$RG= 1\n"
    "##$SFO1= %.15g\n"
    "##$SW= %.15g\n"
    "##$SW_h= 1000\n"
    "##$TD= 8\n"
    "##$TE= 298\n"
    "##END=\n" % (sfo1, sw / sfo1))

# 2. A dataset in the style of a TopSpin 3 console: big endian int32 (BYTORDA 1), digital
#    filter DSPFVS 12 / DECIM 16 without GRPDLY (group delay 71.625 points from the table),
#    TD = 500 values (250 complex points, 2000 bytes -> padded to 2048), NC = -2.
#    Signal: A exp(2 pi i (m1 (j - g) / N)) + (A/2) exp(2 pi i m2 (j - g) / N), m1 = 20,
#    m2 = -37, i.e. the periodic lines delayed by the filter's g points.
t = here / "topspin_expno"
t.mkdir(exist_ok=True)
N, g, A, m1, m2 = 250, 71.625, 2.0**20, 20, -37
raw = []
for j in range(N):
    z = A * cmath.exp(2j * math.pi * m1 * (j - g) / N) + A / 2 * cmath.exp(2j * math.pi * m2 * (j - g) / N)
    raw += [round(z.real), round(z.imag)]
(t / "fid").write_bytes(pad(struct.pack(">%di" % (2 * N), *raw)))
(t / "acqus").write_text(
    "##TITLE= Parameter file, TopSpin 3.5 pl 7\n"
    "##JCAMPDX= 5.0\n"
    "##DATATYPE= Parameter Values\n"
    "##NPOINTS= 7\t$$ modification sequence number\n"
    "##ORIGIN= Bruker BioSpin GmbH\n"
    "##OWNER= nmrsu\n"
    "$$ 2019-05-02 14:11:52.123 +0200  nmrsu@spect\n"
    "$$ /opt/topspin3.5pl7/data/nmrsu/nmr/crotonic/1/acqus\n"
    "$$ process /opt/topspin3.5pl7/prog/mod/go\n"
    "##$AMP= (0..31)\n"
    "100 100 100 100 100 100 100 100 100 100 100 100 100 100 100 100 100 100 \n"
    "100 100 100 100 100 100 100 100 100 100 100 100 100 100 \n"
    "##$AQ_mod= 3\n"
    "##$BF1= 75.4677\n"
    "##$BYTORDA= 1\n"
    "##$DECIM= 16\n"
    "##$DIGMOD= 1\n"
    "##$DSPFVS= 12\n"
    "##$DTYPA= 0\n"
    "##$NC= -2\n"
    "##$NS= 1\n"
    "##$NUC1= <13C>\n"
    "##$O1= 7142.01\n"
    "##$PROBHD= <5 mm PABBO BB/\n"
    ">\n"
    "##$PULPROG= <zg>\n"
    "##$SFO1= 75.47484201\n"
    "##$SW= 198.718\n"
    "##$SW_h= 15000\n"
    "##$TD= 500\n"
    "##END=\n")
