#include "nmrc/spectrometer/readout.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

#include "nmrc/core/error.hpp"
#include "nmrc/core/operators.hpp"
#include "nmrc/core/program_header.hpp"
#include "nmrc/core/propagators.hpp"
#include "nmrc/core/yaml_input.hpp"

namespace nmrc::spectrometer {

ReadoutSetting setting_from_letters(const std::string& letters) {
  ReadoutSetting s;
  s.name = letters;
  for (char c : letters) {
    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (u != 'I' && u != 'X' && u != 'Y')
      throw std::invalid_argument(std::string("readout axis '") + c + "' is not I, X or Y");
    s.axes.push_back(u);
  }
  return s;
}

namespace {

ReadoutSet parse(const YamlField& root, const Molecule& m) {
  // The header: name (required) and description; no format or molecule.
  const ProgramHeader header = read_program_header(
      root, "", {.format = {}, .name = HeaderRules::Name::kRequired, .molecule = false},
      {"spins", "settings"});
  ReadoutSet set;
  set.name = header.name;
  set.description = header.description;
  const int n = m.size();
  // Order of the letters: `spins:` (default: molecule order).
  std::vector<int> order(n);
  for (int k = 0; k < n; ++k) order[k] = k;
  if (auto sp = root.find("spins")) {
    const auto names = sp->as_string_list();
    if (static_cast<int>(names.size()) != n)
      sp->fail("must list all " + std::to_string(n) + " spins of " + m.name + " (" +
               m.labels_text() + ")");
    std::vector<bool> seen(n, false);
    for (int i = 0; i < n; ++i) {
      const int k = m.index_of(names[i]);
      if (k < 0) sp->fail("unknown spin " + names[i] + " (known: " + m.labels_text() + ")");
      if (seen[k]) sp->fail("spin " + names[i] + " listed twice");
      seen[k] = true;
      order[i] = k;
    }
  }
  const YamlField list = root.at("settings");
  const auto items = list.items();
  if (items.empty()) list.fail("must list at least one setting");
  // 3^n distinct settings exist (I, X or Y per spin); a longer list only repeats them.
  long distinct = 1;
  for (int k = 0; k < n && distinct <= 1000000; ++k) distinct *= 3;
  if (static_cast<long>(items.size()) > distinct)
    list.fail("lists " + std::to_string(items.size()) + " settings, but " + std::to_string(n) +
              " spins have only " + std::to_string(distinct) +
              " distinct ones (I, X or Y per spin; docs/limits.md)");
  for (const auto& it : items) {
    const std::string letters = it.as_string();
    if (static_cast<int>(letters.size()) != n)
      it.fail("must have one letter per spin (" + std::to_string(n) + ": " + m.labels_text() +
              "), each I, X or Y");
    ReadoutSetting s;
    try {
      s = setting_from_letters(letters);
    } catch (const std::invalid_argument& e) {
      it.fail(std::string(e.what()) + " (I = no pulse, X or Y = pi/2 about that axis)");
    }
    // Reorder to molecule order.
    std::vector<char> axes(n, 'I');
    for (int i = 0; i < n; ++i) axes[order[i]] = s.axes[i];
    s.axes = axes;
    s.name = std::string(axes.begin(), axes.end());
    set.settings.push_back(s);
  }
  return set;
}

}  // namespace

ReadoutSet load_readout(const std::string& path, const Molecule& m) {
  return parse(YamlField::load_file(path), m);
}

ReadoutSet parse_readout(const std::string& yaml_text, const std::string& name, const Molecule& m) {
  return parse(YamlField::load_string(yaml_text, name), m);
}

Mat readout_unitary(const ReadoutSetting& s, int n) {
  NMRC_CHECK(static_cast<int>(s.axes.size()) == n, "setting does not match the spin count");
  std::vector<Mat> factors;
  for (char a : s.axes) {
    if (a == 'I')
      factors.push_back(Mat::Identity(2, 2));
    else
      factors.push_back(expm_hermitian(0.5 * pauli(a), kPi / 2));
  }
  return kron_all(factors);
}

std::vector<LineObservable> line_observables(int n) {
  std::vector<LineObservable> out;
  const Mat p0 = (pauli('I') + pauli('Z')) / 2.0, p1 = (pauli('I') - pauli('Z')) / 2.0;
  for (int k = 0; k < n; ++k) {
    for (int cfg = 0; cfg < (1 << (n - 1)); ++cfg) {
      LineObservable o;
      o.spin = k;
      o.other_bits.assign(n, -1);
      std::vector<Mat> fx, fy;
      int pos = n - 2;
      for (int j = 0; j < n; ++j) {
        if (j == k) {
          fx.push_back(pauli('X'));
          fy.push_back(pauli('Y'));
          continue;
        }
        const int b = (cfg >> pos--) & 1;
        o.other_bits[j] = b;
        fx.push_back(b == 0 ? p0 : p1);
        fy.push_back(b == 0 ? p0 : p1);
      }
      o.ox = kron_all(fx);
      o.oy = kron_all(fy);
      out.push_back(std::move(o));
    }
  }
  return out;
}

RVec ideal_line_values(const Mat& rho, const ReadoutSetting& s, int n) {
  const Mat r = readout_unitary(s, n);
  const Mat rot = r * rho * r.adjoint();
  const auto obs = line_observables(n);
  RVec v(2 * obs.size());
  for (size_t i = 0; i < obs.size(); ++i) {
    v(2 * i) = (rot * obs[i].ox).trace().real();
    v(2 * i + 1) = (rot * obs[i].oy).trace().real();
  }
  return v;
}

RMat measurement_matrix(const std::vector<ReadoutSetting>& settings, int n) {
  const int params = (1 << (2 * n)) - 1;
  const auto obs = line_observables(n);
  const int rows_per = 2 * static_cast<int>(obs.size());
  RMat a(rows_per * settings.size(), params);
  // Tr(P M) over each Pauli string's one entry per row (core's pauli_trace): 2^n terms, not 4^n.
  std::vector<SparsePauliString> paulis;
  for (int p = 1; p <= params; ++p) paulis.push_back(sparse_pauli_string(p, n));
  for (size_t s = 0; s < settings.size(); ++s) {
    const Mat r = readout_unitary(settings[s], n);
    for (size_t i = 0; i < obs.size(); ++i) {
      // value = Tr(R rho R^dag O) = Tr(rho R^dag O R); rho = (I + sum r_p P_p)/2^n.
      const Mat mx = r.adjoint() * obs[i].ox * r;
      const Mat my = r.adjoint() * obs[i].oy * r;
      for (int p = 0; p < params; ++p) {
        a(s * rows_per + 2 * i, p) = pauli_trace(paulis[p], mx).real();
        a(s * rows_per + 2 * i + 1, p) = pauli_trace(paulis[p], my).real();
      }
    }
  }
  return a;
}

namespace {

using StringSet = std::vector<bool>;

// Pauli strings (indices 1..4^n-1) that appear in a setting's rows. Rows are the strings
// R^dag (sigma_{x,y}^k Z_S) R for all subsets S of the other spins (the projectors P_b span
// them), so "appears in a row" is "visible".
StringSet visible_strings(const ReadoutSetting& s, int n) {
  const RMat a = measurement_matrix({s}, n);
  StringSet v(a.cols() + 1, false);
  for (Eigen::Index p = 0; p < a.cols(); ++p) v[p + 1] = a.col(p).cwiseAbs().maxCoeff() > 1e-9;
  return v;
}

int rank_of(const RMat& a, double* cond_all, double* cond_visible) {
  Eigen::BDCSVD<RMat> svd(a);
  const RVec& sv = svd.singularValues();
  const double tol = std::max<double>(a.rows(), a.cols()) * sv(0) * 1e-12;
  int rank = 0;
  double smallest = sv(0);
  for (Eigen::Index i = 0; i < sv.size(); ++i)
    if (sv(i) > tol) {
      ++rank;
      smallest = sv(i);
    }
  *cond_visible = sv(0) / smallest;
  *cond_all =
      rank == a.cols() ? sv(0) / sv(sv.size() - 1) : std::numeric_limits<double>::infinity();
  return rank;
}

}  // namespace

CompletenessReport analyze_completeness(const std::vector<ReadoutSetting>& settings, int n) {
  CompletenessReport rep;
  rep.parameters = (1 << (2 * n)) - 1;
  std::map<std::string, int> count;
  for (const auto& s : settings)
    if (++count[s.name] == 2) rep.duplicates.push_back(s.name);
  const RMat a = measurement_matrix(settings, n);
  rep.rank = rank_of(a, &rep.condition_number, &rep.condition_visible);
  rep.complete = rep.rank == rep.parameters;
  if (rep.complete) return rep;

  StringSet seen(rep.parameters + 1, false);
  for (const auto& s : settings) {
    const StringSet v = visible_strings(s, n);
    for (int p = 1; p <= rep.parameters; ++p) seen[p] = seen[p] || v[p];
  }
  std::vector<int> missing;
  for (int p = 1; p <= rep.parameters; ++p)
    if (!seen[p]) {
      missing.push_back(p);
      rep.invisible.push_back(pauli_name(p, n));
    }

  // Candidates: every setting in {I, X, Y}^n, with the missing strings each one sees.
  std::vector<ReadoutSetting> cands;
  std::vector<std::vector<int>> covers;
  int total = 1;
  for (int k = 0; k < n; ++k) total *= 3;
  for (int c = 0; c < total; ++c) {
    std::string letters;
    int x = c;
    for (int k = 0; k < n; ++k) {
      letters = "IXY"[x % 3] + letters;
      x /= 3;
    }
    const ReadoutSetting s = setting_from_letters(letters);
    const StringSet v = visible_strings(s, n);
    std::vector<int> cov;
    for (size_t i = 0; i < missing.size(); ++i)
      if (v[missing[i]]) cov.push_back(static_cast<int>(i));
    if (!cov.empty()) {
      cands.push_back(s);
      covers.push_back(cov);
    }
  }
  auto covers_all = [&](const std::vector<int>& pick) {
    std::vector<bool> got(missing.size(), false);
    for (int c : pick)
      for (int i : covers[c]) got[i] = true;
    return std::all_of(got.begin(), got.end(), [](bool b) { return b; });
  };
  // Exhaustive search for 1, 2, 3 additions, then greedy.
  const int nc = static_cast<int>(cands.size());
  std::vector<int> best;
  for (int size = 1; size <= 3 && best.empty(); ++size) {
    std::vector<int> idx(size);
    std::function<bool(int, int)> rec = [&](int pos, int start) {
      if (pos == size) return covers_all(idx);
      for (int c = start; c < nc; ++c) {
        idx[pos] = c;
        if (rec(pos + 1, c + 1)) return true;
      }
      return false;
    };
    if (rec(0, 0)) best = idx;
  }
  if (best.empty()) {
    std::vector<bool> got(missing.size(), false);
    while (!std::all_of(got.begin(), got.end(), [](bool b) { return b; })) {
      int pick = -1, gain = 0;
      for (int c = 0; c < nc; ++c) {
        int g = 0;
        for (int i : covers[c]) g += got[i] ? 0 : 1;
        if (g > gain) {
          gain = g;
          pick = c;
        }
      }
      NMRC_CHECK(pick >= 0, "no candidate setting covers the remaining strings");
      best.push_back(pick);
      for (int i : covers[pick]) got[i] = true;
    }
  }
  for (int c : best) rep.proposed.push_back(cands[c]);
  return rep;
}

std::string CompletenessReport::summary() const {
  std::ostringstream os;
  os.precision(4);
  os << "rank " << rank << " of " << parameters << " parameters";
  if (complete) {
    os << ": complete, condition number " << condition_number;
  } else {
    os << ": incomplete (condition number on what it sees " << condition_visible << "); "
       << invisible.size() << " Pauli strings are invisible:";
    for (size_t i = 0; i < invisible.size(); ++i) os << (i ? ", " : " ") << invisible[i];
    os << ". Adding " << proposed.size() << " setting" << (proposed.size() == 1 ? "" : "s")
       << " completes it:";
    for (size_t i = 0; i < proposed.size(); ++i) os << (i ? ", " : " ") << proposed[i].name;
  }
  if (!duplicates.empty()) {
    os << ". Listed more than once:";
    for (size_t i = 0; i < duplicates.size(); ++i) os << (i ? ", " : " ") << duplicates[i];
  }
  return os.str();
}

}  // namespace nmrc::spectrometer
