#include "nmrc/core/operators.hpp"

#include <algorithm>
#include <stdexcept>
#include <unsupported/Eigen/KroneckerProduct>

#include "nmrc/core/error.hpp"
#include "nmrc/core/parallel.hpp"

namespace nmrc {

Mat pauli(char axis) {
  Mat m = Mat::Zero(2, 2);
  switch (axis) {
    case 'I':
    case 'i':
      m(0, 0) = m(1, 1) = 1.0;
      break;
    case 'X':
    case 'x':
      m(0, 1) = m(1, 0) = 1.0;
      break;
    case 'Y':
    case 'y':
      m(0, 1) = cplx(0, -1);
      m(1, 0) = cplx(0, 1);
      break;
    case 'Z':
    case 'z':
      m(0, 0) = 1.0;
      m(1, 1) = -1.0;
      break;
    default:
      throw std::invalid_argument(std::string("pauli: unknown axis '") + axis + "'");
  }
  return m;
}

Mat pauli_string(int p, int n) {
  std::vector<Mat> f;
  for (int k = 0; k < n; ++k) f.push_back(pauli("IXYZ"[(p >> (2 * (n - 1 - k))) & 3]));
  return kron_all(f);
}

std::string pauli_name(int p, int n) {
  std::string s;
  for (int k = 0; k < n; ++k) s += "IXYZ"[(p >> (2 * (n - 1 - k))) & 3];
  return s;
}

SparsePauliString sparse_pauli_string(int p, int n) {
  const Mat single[4] = {pauli('I'), pauli('X'), pauli('Y'), pauli('Z')};
  int digits[32];
  SparsePauliString out;
  for (int k = 0; k < n; ++k) {
    digits[k] = (p >> (2 * (n - 1 - k))) & 3;
    if (digits[k] == 1 || digits[k] == 2) out.flip |= 1 << (n - 1 - k);
  }
  const int d = 1 << n;
  out.phase.resize(d);
  for (int b = 0; b < d; ++b) {
    const int a = b ^ out.flip;
    cplx pe = 1.0;
    for (int k = 0; k < n; ++k) pe *= single[digits[k]](spin_bit(b, k, n), spin_bit(a, k, n));
    out.phase(b) = pe;
  }
  return out;
}

cplx pauli_trace(const SparsePauliString& pauli, const Mat& op) {
  cplx tr = 0.0;
  for (Eigen::Index b = 0; b < pauli.phase.size(); ++b)
    tr += pauli.phase(b) * op(b ^ pauli.flip, b);
  return tr;
}

std::map<std::string, cplx> pauli_coefficients(const Mat& op, double tol) {
  int n = 0;
  while ((Eigen::Index{1} << n) < op.rows()) ++n;
  NMRC_CHECK((Eigen::Index{1} << n) == op.rows() && op.rows() == op.cols(),
             "pauli_coefficients: not a 2^n square matrix");
  std::map<std::string, cplx> out;
  const int strings = 1 << (2 * n);
  for (int s = 0; s < strings; ++s) {
    const cplx tr = pauli_trace(sparse_pauli_string(s, n), op) / static_cast<double>(1 << n);
    if (std::abs(tr) > tol) out[pauli_name(s, n)] = tr;
  }
  return out;
}

Mat sigma_plus() {
  Mat m = Mat::Zero(2, 2);
  m(1, 0) = 1.0;
  return m;
}

Mat sigma_minus() {
  Mat m = Mat::Zero(2, 2);
  m(0, 1) = 1.0;
  return m;
}

Mat kron(const Mat& a, const Mat& b) { return Eigen::kroneckerProduct(a, b).eval(); }

Mat kron_all(const std::vector<Mat>& factors) {
  Mat out = Mat::Identity(1, 1);
  for (const auto& f : factors) out = kron(out, f);
  return out;
}

namespace {
void check_spins(const std::vector<int>& spins, int n) {
  for (size_t i = 0; i < spins.size(); ++i) {
    NMRC_CHECK(spins[i] >= 0 && spins[i] < n, "spin index out of range");
    for (size_t j = 0; j < i; ++j) NMRC_CHECK(spins[i] != spins[j], "repeated spin index");
  }
}

// Enumerates, for a local operator on `spins`, the base indices (local bits zero) and the
// offsets of each local basis state, so that full index = base + offset[local].
struct LocalIndex {
  std::vector<int> offsets;  // 2^m offsets, local index bit (m-1-i) is spins[i]
  std::vector<int> bases;    // 2^(n-m) base indices
};

LocalIndex local_index(const std::vector<int>& spins, int n) {
  check_spins(spins, n);
  const int m = static_cast<int>(spins.size());
  LocalIndex li;
  li.offsets.assign(1 << m, 0);
  int mask = 0;
  for (int l = 0; l < (1 << m); ++l) {
    int off = 0;
    for (int i = 0; i < m; ++i)
      if ((l >> (m - 1 - i)) & 1) off |= 1 << (n - 1 - spins[i]);
    li.offsets[l] = off;
  }
  for (int i = 0; i < m; ++i) mask |= 1 << (n - 1 - spins[i]);
  li.bases.reserve(1 << (n - m));
  for (int idx = 0; idx < (1 << n); ++idx)
    if ((idx & mask) == 0) li.bases.push_back(idx);
  return li;
}
}  // namespace

Mat embed(const Mat& op, const std::vector<int>& spins, int n) {
  const int m = static_cast<int>(spins.size());
  NMRC_CHECK(op.rows() == (1 << m) && op.cols() == (1 << m), "operator size does not match spins");
  const LocalIndex li = local_index(spins, n);
  const int dim = 1 << n;
  Mat out = Mat::Zero(dim, dim);
  for (int base : li.bases)
    for (int r = 0; r < (1 << m); ++r)
      for (int c = 0; c < (1 << m); ++c) out(base + li.offsets[r], base + li.offsets[c]) = op(r, c);
  return out;
}

Mat sigma(char axis, int k, int n) { return embed(pauli(axis), {k}, n); }

Mat spin_op(char axis, int k, int n) { return 0.5 * sigma(axis, k, n); }

Mat partial_trace(const Mat& rho, const std::vector<int>& keep, int n) {
  NMRC_CHECK(rho.rows() == (1 << n) && rho.cols() == (1 << n), "matrix is not n-spin");
  const int m = static_cast<int>(keep.size());
  const LocalIndex li = local_index(keep, n);
  Mat out = Mat::Zero(1 << m, 1 << m);
  for (int r = 0; r < (1 << m); ++r)
    for (int c = 0; c < (1 << m); ++c) {
      cplx s = 0.0;
      for (int base : li.bases) s += rho(base + li.offsets[r], base + li.offsets[c]);
      out(r, c) = s;
    }
  return out;
}

void apply_local_left(Mat& mtx, const Mat& u, const std::vector<int>& spins, int n) {
  const int m = static_cast<int>(spins.size());
  NMRC_CHECK(u.rows() == (1 << m) && u.cols() == (1 << m), "operator size does not match spins");
  NMRC_CHECK(mtx.rows() == (1 << n), "matrix is not n-spin");
  const LocalIndex li = local_index(spins, n);
  const int d = 1 << m;
  Eigen::VectorXcd tmp(d);
  const Eigen::Index cols = mtx.cols();
  for (Eigen::Index c = 0; c < cols; ++c) {
    for (int base : li.bases) {
      for (int l = 0; l < d; ++l) tmp(l) = mtx(base + li.offsets[l], c);
      for (int r = 0; r < d; ++r) {
        cplx s = 0.0;
        for (int l = 0; l < d; ++l) s += u(r, l) * tmp(l);
        mtx(base + li.offsets[r], c) = s;
      }
    }
  }
}

namespace {

// Nonzero entries of a small operator, row by row, so that sparse gates (partial SWAPs,
// controlled gates) cost only their nonzeros. Real arithmetic: std::complex's operator* calls
// the NaN-recovering __muldc3 without -ffast-math, several times slower in this kernel.
struct SparseRows {
  struct Entry {
    int l;
    double re, im;
  };
  std::vector<int> start;  // row r: entries[start[r] .. start[r+1])
  std::vector<Entry> entries;
};

SparseRows sparse_rows(const Mat& u) {
  SparseRows s;
  for (Eigen::Index r = 0; r < u.rows(); ++r) {
    s.start.push_back(static_cast<int>(s.entries.size()));
    for (Eigen::Index c = 0; c < u.cols(); ++c)
      if (u(r, c) != cplx(0.0))
        s.entries.push_back({static_cast<int>(c), u(r, c).real(), u(r, c).imag()});
  }
  s.start.push_back(static_cast<int>(s.entries.size()));
  return s;
}

}  // namespace

int default_thread_count(Eigen::Index dim) {
  // Below 512 x 512 the work (a few ms at most) does not pay for starting threads.
  if (dim < 512) return 1;
  return std::min(hardware_threads(), 8);
}

namespace {

// One thread's share of apply_local: column bases [cb_begin, cb_end). D is the local dimension
// (compile-time for 1- and 2-spin gates so the small loops unroll; 0 = dynamic `d`).
template <int D>
void apply_local_blocks(cplx* data, size_t ld, const LocalIndex& li, const SparseRows& su, int d,
                        size_t cb_begin, size_t cb_end) {
  if constexpr (D > 0) d = D;
  constexpr int kMax = D > 0 ? D * D : 1;
  std::vector<double> heap(D > 0 ? 0 : 4 * d * d);
  double stack[4 * kMax];
  double* br = D > 0 ? stack : heap.data();
  double* bi = br + d * d;
  double* tr = bi + d * d;
  double* ti = tr + d * d;
  std::vector<cplx*> col(d);
  for (size_t ci = cb_begin; ci < cb_end; ++ci) {
    const size_t cb = static_cast<size_t>(li.bases[ci]);
    for (int c = 0; c < d; ++c) col[c] = data + (cb + li.offsets[c]) * ld;
    for (int rb : li.bases) {
      bool zero = true;
      for (int c = 0; c < d; ++c)
        for (int r = 0; r < d; ++r) {
          const cplx v = col[c][rb + li.offsets[r]];
          br[r * d + c] = v.real();
          bi[r * d + c] = v.imag();
          zero = zero && v.real() == 0.0 && v.imag() == 0.0;
        }
      if (zero) continue;          // U 0 U^dag = 0: zero blocks cost only their load
      for (int r = 0; r < d; ++r)  // t = U b
        for (int c = 0; c < d; ++c) {
          double sr = 0.0, si = 0.0;
          for (int e = su.start[r]; e < su.start[r + 1]; ++e) {
            const auto& x = su.entries[e];
            const double yr = br[x.l * d + c], yi = bi[x.l * d + c];
            sr += x.re * yr - x.im * yi;
            si += x.re * yi + x.im * yr;
          }
          tr[r * d + c] = sr;
          ti[r * d + c] = si;
        }
      // rho block = t U^dag: (t U^dag)(r, c) = sum_l t(r, l) conj(U(c, l)).
      for (int c = 0; c < d; ++c)
        for (int r = 0; r < d; ++r) {
          double sr = 0.0, si = 0.0;
          for (int e = su.start[c]; e < su.start[c + 1]; ++e) {
            const auto& x = su.entries[e];
            const double yr = tr[r * d + x.l], yi = ti[r * d + x.l];
            sr += yr * x.re + yi * x.im;
            si += yi * x.re - yr * x.im;
          }
          col[c][rb + li.offsets[r]] = cplx(sr, si);
        }
    }
  }
}

}  // namespace

void apply_local(Mat& rho, const Mat& u, const std::vector<int>& spins, int n, int threads) {
  const int m = static_cast<int>(spins.size());
  NMRC_CHECK(u.rows() == (1 << m) && u.cols() == (1 << m), "operator size does not match spins");
  NMRC_CHECK(rho.rows() == (1 << n) && rho.cols() == (1 << n), "matrix is not n-spin");
  const LocalIndex li = local_index(spins, n);
  const int d = 1 << m;
  const SparseRows su = sparse_rows(u);
  const size_t ld = static_cast<size_t>(rho.rows());
  cplx* const data = rho.data();
  // In place, block by block: for every pair (row base, column base) the d x d block B of rho
  // on the local indices becomes U B U^dagger. Column bases are split across threads; each
  // block is owned by exactly one thread.
  const auto work = [&](size_t cb_begin, size_t cb_end) {
    if (d == 2)
      apply_local_blocks<2>(data, ld, li, su, d, cb_begin, cb_end);
    else if (d == 4)
      apply_local_blocks<4>(data, ld, li, su, d, cb_begin, cb_end);
    else
      apply_local_blocks<0>(data, ld, li, su, d, cb_begin, cb_end);
  };
  const int nt = threads > 0 ? threads : default_thread_count(rho.rows());
  parallel_chunks(li.bases.size(), nt, work);
}

void apply_local(Vec& psi, const Mat& u, const std::vector<int>& spins, int n) {
  Mat m = psi;
  apply_local_left(m, u, spins, n);
  psi = m.col(0);
}

int basis_index(const std::vector<int>& bits) {
  int idx = 0;
  for (int b : bits) idx = (idx << 1) | (b & 1);
  return idx;
}

}  // namespace nmrc
