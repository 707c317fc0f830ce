#!/usr/bin/env python3
"""Writes TopSpin-layout test files of tests/data/bruker/ (run once with numpy; the files are
committed). Nothing here is a vendor's file: every file is computed from the layout rules that
real TopSpin files follow (docs/bruker.md, "Sources"):

- shapes as TopSpin's Shapetool and older TopSpin/XWIN-NMR installations write them: CRLF line
  ends, "##JCAMP-DX= 5.00 $$ Bruker JCAMP library" (an inline comment), "$$" comment lines,
  numbers as 1.000000e+02, data lines "amplitude, phase", the file ending in "##END" without
  "=" and without a final line break;
- a TopSpin 3 experiment folder (acqus with many records, NUC1 = <13C>, NUC2 = <1H>,
  NUC3 = <off>, DSPFVS 20 with a fractional GRPDLY, big-endian int32 fid) whose FID went
  through a linear-phase digital filter: an oversampled signal that starts at t = 0, filtered
  by a symmetric FIR low-pass (windowed sinc) and decimated, so that its first GRPDLY points hold
  the filter's start, as a console records it.
"""
import math
import random
import struct
from pathlib import Path

import numpy as np

here = Path(__file__).parent


def enum(x):
    """1.000000e+02, as the older TopSpin/XWIN-NMR shape files write numbers."""
    return "%.6e" % x


def shape_file(name, title, params, exmode, totrot, amp, ph, bwfac, crlf=True):
    amp = [float(a) for a in amp]
    ph = [float(p) % 360.0 for p in ph]
    integ = abs(sum(a / 100.0 * complex(math.cos(math.radians(p)), math.sin(math.radians(p)))
                    for a, p in zip(amp, ph))) / len(amp)
    lines = [
        "##TITLE= /opt/topspin3.2/exp/stan/nmr/lists/wave/" + title,
        "##JCAMP-DX= 5.00 $$ Bruker JCAMP library",
        "##DATA TYPE= Shape Data",
        "##ORIGIN= Bruker Analytik GmbH",
        "##OWNER= <nmrsu>",
        "##DATE= 98/02/10",
        "##TIME= 11:47:43",
        "$$ " + params,
        "##$SHAPE_PARAMETERS= " + params,
        "##MINX= " + enum(min(amp)),
        "##MAXX= " + enum(max(amp)),
        "##MINY= " + enum(min(ph)),
        "##MAXY= " + enum(max(ph)),
        "##$SHAPE_EXMODE= " + exmode,
        "##$SHAPE_TOTROT= " + enum(totrot),
        "##$SHAPE_BWFAC= " + enum(bwfac),
        "##$SHAPE_INTEGFAC= " + enum(integ),
        "##$SHAPE_MODE= 0",
        "##NPOINTS= %d" % len(amp),
        "##XYPOINTS= (XY..XY)",
    ]
    lines += [" %s,  %s" % (enum(a), enum(p)) for a, p in zip(amp, ph)]
    eol = "\r\n" if crlf else "\n"
    (here / name).write_bytes((eol.join(lines) + eol + "##END").encode())


def signed(values):
    """Amplitude with a sign as TopSpin stores it: |a| in per cent of the largest, phase 0/180."""
    top = max(abs(v) for v in values)
    return [100.0 * abs(v) / top for v in values], [0.0 if v >= 0 else 180.0 for v in values]


# Gaussian 90 truncated at 1 % (Gaus1_90-like: exp(-ln(100) x^2) on x in [-1, 1]).
n = 512
x = [-1.0 + 2.0 * (k + 0.5) / n for k in range(n)]
shape_file("Gaus1_90", "Gaus1_90.512", "Type: Gauss ; Truncation Level [%] = 1.0", "Excitation",
           90.0, [100.0 * math.exp(-math.log(100.0) * t * t) for t in x], [0.0] * n, 2.122)
# A symmetric cosine series with sign changes, stored as phases 0/180 as REBURP (Geen & Freeman,
# J. Magn. Reson. 93, 93 (1991)) is; the coefficients are illustrative, the tests need the layout.
a = [0.49, -1.02, 1.11, -1.57, 0.83, -0.42, 0.26, -0.16, 0.10, -0.07, 0.04, -0.03, 0.01, -0.02]
w = [a[0] + sum(a[j] * math.cos(j * 2 * math.pi * (k + 0.5) / n) for j in range(1, len(a)))
     for k in range(n)]
amp, ph = signed(w)
shape_file("Reburp_like", "Reburp.512", "Type: Fourier series (Reburp-like)", "Refocusing", 180.0,
           amp, ph, 4.875)
# An asymmetric cosine + sine series (EBURP-2-like): excitation, amplitude signs as phases.
A = [0.26, 0.91, 0.29, -1.28, -0.05, 0.04, 0.02, 0.06, 0.00, -0.02]
B = [0.0, -0.16, -1.82, 0.18, 0.42, 0.07, 0.07, 0.01, -0.04, -0.01]
w = [A[0] + sum(A[j] * math.cos(j * 2 * math.pi * (k + 0.5) / n) +
                B[j] * math.sin(j * 2 * math.pi * (k + 0.5) / n) for j in range(1, len(A)))
     for k in range(n)]
amp, ph = signed(w)
shape_file("Eburp2_like", "Eburp2.512", "Type: Fourier series (Eburp2-like)", "Excitation", 90.0,
           amp, ph, 4.0, crlf=False)

# A TopSpin 3 experiment folder: 13C of crotonic acid (BF1 75.4677 MHz as for a 300.13 MHz
# magnet; molecules/crotonic_acid.yaml), O1 0.11 Hz from nmrc's carrier, SW_h 15000, TD 8192
# (4096 complex points), DECIM 8, a FIR of 1088 taps: group delay (1088 - 1) / 2 / 8 = 67.9375
# output points.
d = here / "topspin3_13c"
d.mkdir(exist_ok=True)
sw, npts, D, taps = 15000.0, 4096, 8, 1088
g = (taps - 1) / 2 / D
bf1, o1 = 75.4677, 7142.01
# Lines (Hz from the dataset's carrier, amplitude, T2*): near C1, C2 (largest), C3, C4.
lines = [(5783.5, 0.6, 0.24), (2053.7, 1.0, 0.21), (4101.2, 0.8, 0.23), (-5783.7, 0.7, 0.21)]
t = np.arange(npts * D + taps) / (sw * D)
s = sum(amp * np.exp(2j * np.pi * f * t - t / t2) for f, amp, t2 in lines)
k = np.arange(taps) - (taps - 1) / 2
h = np.sinc(2 * 0.45 / D * k) * np.blackman(taps)
h /= h.sum()
z = np.convolve(s, h)[: npts * D : D]  # causal filter: y_m = sum_k h_k s_{mD - k}, s = 0 before t = 0
rng = random.Random(11)
z = z + np.array([complex(rng.gauss(0, 0.01), rng.gauss(0, 0.01)) for _ in range(npts)])
nc = -24  # stored value x 2^NC: |z| up to ~3.1 -> ~5e7
ints = []
for v in z:
    ints += [int(round(v.real * 2.0**-nc)), int(round(v.imag * 2.0**-nc))]
raw = struct.pack(">%di" % len(ints), *ints)
(d / "fid").write_bytes(raw + b"\0" * ((-len(raw)) % 1024))


def arr(name, values, width=70):
    out, line = ["##$%s= (0..%d)" % (name, len(values) - 1)], ""
    for v in values:
        line += v + " "
        if len(line) >= width:
            out.append(line)
            line = ""
    if line:
        out.append(line)
    return out


recs = {
    "ACQT0": ["##$ACQT0= -2.26666666666667"], "AMP": arr("AMP", ["100"] * 32),
    "AQSEQ": ["##$AQSEQ= 0"], "AQ_mod": ["##$AQ_mod= 3"], "AUNM": ["##$AUNM= <au_zg>"],
    "BF1": ["##$BF1= %.7g" % bf1], "BF2": ["##$BF2= 300.13"], "BF3": ["##$BF3= 300.13"],
    "BYTORDA": ["##$BYTORDA= 1"], "CNST": arr("CNST", ["1"] * 64),
    "CPDPRG": ["##$CPDPRG= (0..8)", "<> <> <waltz16> <> <> <> <> <> <>"],
    "D": arr("D", ["0", "2"] + ["0"] * 9 + ["0.03"] + ["0"] * 4 + ["0.0002"] + ["0"] * 47),
    "DATE": ["##$DATE= 1556799112"], "DECIM": ["##$DECIM= %d" % D], "DIGMOD": ["##$DIGMOD= 1"],
    "DIGTYP": ["##$DIGTYP= 12"], "DQDMODE": ["##$DQDMODE= 0"], "DR": ["##$DR= 22"],
    "DS": ["##$DS= 4"], "DSPFIRM": ["##$DSPFIRM= 0"], "DSPFVS": ["##$DSPFVS= 20"],
    "DTYPA": ["##$DTYPA= 0"], "EXP": ["##$EXP= <>"], "FnMODE": ["##$FnMODE= 0"],
    "GRPDLY": ["##$GRPDLY= %.15g" % g], "INSTRUM": ["##$INSTRUM= <spect>"],
    "LOCNUC": ["##$LOCNUC= <2H>"], "NC": ["##$NC= %d" % nc], "NS": ["##$NS= 16"],
    "NUC1": ["##$NUC1= <13C>"], "NUC2": ["##$NUC2= <1H>"], "NUC3": ["##$NUC3= <off>"],
    "NUCLEUS": ["##$NUCLEUS= <off>"], "O1": ["##$O1= %.15g" % o1], "O2": ["##$O2= 1800.78"],
    "P": arr("P", ["0", "9.5"] + ["0"] * 62), "PARMODE": ["##$PARMODE= 0"],
    "PCPD": arr("PCPD", ["100", "100", "80", "100", "100", "100", "100", "100", "100", "100"]),
    "PLW": arr("PLW", ["-1", "44"] + ["-1"] * 10 + ["1.35"] + ["-1"] * 61),
    "PROBHD": ["##$PROBHD= <5 mm PABBO BB/", "19F-1H/D Z-GRD Z108618/0061>"],
    "PULPROG": ["##$PULPROG= <zgpg30>"], "RECPH": ["##$RECPH= 0"], "RG": ["##$RG= 2050"],
    "SFO1": ["##$SFO1= %.15g" % (bf1 + o1 * 1e-6)], "SFO2": ["##$SFO2= 300.1318007"],
    "SOLVENT": ["##$SOLVENT= <Acetone>"], "SW": ["##$SW= %.15g" % (sw / (bf1 + o1 * 1e-6))],
    "SW_h": ["##$SW_h= %.15g" % sw], "TD": ["##$TD= %d" % (2 * npts)], "TE": ["##$TE= 298"],
}
head = [
    "##TITLE= Parameter file, TopSpin 3.2",
    "##JCAMPDX= 5.0",
    "##DATATYPE= Parameter Values",
    "##NPOINTS= 3\t$$ modification sequence number",
    "##ORIGIN= Bruker BioSpin GmbH",
    "##OWNER= nmrsu",
    "$$ 2019-05-02 14:11:52.123 +0200  nmrsu@spect",
    "$$ /opt/topspin3.2/data/nmrsu/nmr/crotonic/1/acqus",
    "$$ process /opt/topspin3.2/prog/mod/go",
]
body = [l for key in sorted(recs) for l in recs[key]]
(d / "acqus").write_text("\n".join(head + body + ["##END="]) + "\n")
print("group delay %.15g points; wrote Gaus1_90, Reburp_like, Eburp2_like, topspin3_13c/" % g)
