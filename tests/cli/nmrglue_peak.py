import struct, sys
import numpy as np
# nmrglue's reading of a Bruker folder, reimplemented (jjhelmus/nmrglue fileio/bruker.py:
# read, remove_digital_filter with its defaults): TD, BYTORDA, DTYPA, NC, GRPDLY from acqus;
# the FID rolled left by floor(GRPDLY), the last floor(GRPDLY) + 2 points dropped after all
# but 6 of them were added, mirrored, onto the first; then zero filled and transformed.
folder, spectrum_csv, zf = sys.argv[1], sys.argv[2], int(sys.argv[3])
par = {}
for line in open(folder + "/acqus"):
    if line.startswith("##$") and "=" in line:
        k, v = line[3:].split("=", 1)
        par[k.strip()] = v.strip()
td, nc, g = int(par["TD"]), int(par["NC"]), float(par["GRPDLY"])
fmt = (">" if par["BYTORDA"] == "1" else "<") + ("%di" if par["DTYPA"] == "0" else "%dd") % td
raw = open(folder + "/fid", "rb").read(td * (4 if par["DTYPA"] == "0" else 8))
v = np.array(struct.unpack(fmt, raw), float) * 2.0**nc
z = v[0::2] + 1j * v[1::2]
phase = np.floor(g)
n = len(z)
y = np.fft.ifft(np.fft.fft(z) * np.exp(2j * np.pi * phase * np.fft.fftfreq(n) * n))
skip = int(np.floor(phase + 2))
add = max(skip - 6, 0)
y[:add] = y[:add] + y[: -(add + 1) : -1]
y = y[:-skip]
sw, bf1, o1 = float(par["SW_h"]), float(par["BF1"]), float(par["O1"])
spec = np.fft.fftshift(np.fft.fft(y, zf))
f = (np.arange(zf) - zf // 2) * sw / zf  # a line exp(+2 pi i f t) at +f
ref_ppm = (o1 + f[np.argmax(abs(spec))]) / bf1
d = np.loadtxt(spectrum_csv, delimiter=",", skiprows=1)
nm_ppm = d[np.argmax(np.hypot(d[:, 2], d[:, 3])), 1]
tol = sw / zf / bf1
print("largest peak: nmrc %.6f ppm, nmrglue's algorithm %.6f ppm (difference %.2g ppm, bin %.2g)"
      % (nm_ppm, ref_ppm, nm_ppm - ref_ppm, tol))
sys.exit(0 if abs(nm_ppm - ref_ppm) <= tol else 1)
