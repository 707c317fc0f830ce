#include "nmrc/core/matrix_json.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "nmrc/core/error.hpp"
#include "nmrc/core/json_input.hpp"

namespace nmrc {

namespace {

template <class Json>
void put_real_imag(Json& j, const Mat& m) {
  Json re = Json::array(), im = Json::array();
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    Json rr = Json::array(), ii = Json::array();
    for (Eigen::Index c = 0; c < m.cols(); ++c) {
      rr.push_back(m(r, c).real());
      ii.push_back(m(r, c).imag());
    }
    re.push_back(rr);
    im.push_back(ii);
  }
  j["real"] = re;
  j["imag"] = im;
}

std::string matrix_file(const Mat& m, const std::vector<std::string>& labels,
                        const std::string& format, bool with_trace) {
  nlohmann::ordered_json j;
  j["format"] = format;
  j["spins"] = labels;
  put_real_imag(j, m);
  if (with_trace) j["trace"] = m.trace().real();
  return j.dump(1) + "\n";
}

}  // namespace

std::string unitary_json(const Mat& u, const std::vector<std::string>& spin_labels) {
  return matrix_file(u, spin_labels, "nmrc-unitary/1", false);
}

std::string density_json(const Mat& rho, const std::vector<std::string>& spin_labels) {
  return matrix_file(rho, spin_labels, "nmrc-density/1", true);
}

std::string matrix_json(const Mat& m) {
  nlohmann::json j = nlohmann::json::object();
  put_real_imag(j, m);
  return j.dump();
}

Mat matrix_from_json(const std::string& json_text, const MatrixJsonRules& rules,
                     const std::function<void(const std::string& rule)>& fail) {
  // With a source file, a rule names the place in it: "file:line:col: field: rule".
  auto die = [&](const std::string& field, const std::string& rule) {
    std::string r = rule;
    if (!rules.source.empty())
      r = rules.source + ":" + json_location(json_text, field) + ": " +
          (field.empty() ? std::string() : field + ": ") + rule;
    fail(r);
    throw InputError(r);  // fail() must throw; never continue on bad input
  };
  nlohmann::json j;
  try {
    check_json_depth(json_text, rules.source.empty() ? std::string("JSON") : rules.source);
  } catch (const InputError& e) {
    fail(e.what());
    throw;
  }
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::string r = std::string("invalid JSON: ") + e.what();
    if (rules.source.empty()) die("", r);
    fail(rules.source + ":" + text_line_col(json_text, e.byte == 0 ? 0 : e.byte - 1) + ": " + r);
    throw InputError(r);
  } catch (const nlohmann::json::exception& e) {  // number overflow and the like
    const std::string r = std::string("invalid JSON: ") + e.what();
    if (rules.source.empty()) die("", r);
    fail(rules.source + ":" + json_error_location(json_text, e.what()) + ": " + r);
    throw InputError(r);
  }
  const std::string layout = rules.imag_optional
                                 ? "must hold {\"real\": [[...]]} (and optionally \"imag\")"
                                 : "must hold {\"real\": [[...]], \"imag\": [[...]]}";
  if (!j.is_object() || !j.contains("real") || !j["real"].is_array()) die("", layout);
  const bool has_imag = j.contains("imag");
  if (!has_imag && !rules.imag_optional) die("", layout);
  if (has_imag && !j["imag"].is_array()) die("imag", layout);
  const auto& re = j["real"];
  const size_t n = re.size();
  const std::string size_rule =
      rules.dim > 0 ? "real and imag must be " + std::to_string(rules.dim) + "x" +
                          std::to_string(rules.dim) + " lists of numbers"
                    : "real and imag must be square lists of numbers of the same size";
  if (n == 0 || (rules.dim > 0 && n != static_cast<size_t>(rules.dim))) die("real", size_rule);
  if (n > static_cast<size_t>(kMaxMatrixJsonDim))
    die("real", "a " + std::to_string(n) + "x" + std::to_string(n) +
                    " matrix is larger than the limit of " + std::to_string(kMaxMatrixJsonDim) +
                    " (12 spins; docs/limits.md)");
  if (has_imag && j["imag"].size() != n) die("imag", size_rule);
  for (size_t r = 0; r < n; ++r) {
    const std::string row = fmt::format("[{}]", r);
    if (!re[r].is_array() || re[r].size() != n) die("real" + row, size_rule);
    if (has_imag && (!j["imag"][r].is_array() || j["imag"][r].size() != n))
      die("imag" + row, size_rule);
  }
  Mat m(n, n);
  for (size_t r = 0; r < n; ++r) {
    const auto* im_row = has_imag ? &j["imag"][r] : nullptr;
    for (size_t c = 0; c < n; ++c) {
      const std::string at = fmt::format("[{}][{}]", r, c);
      if (!re[r][c].is_number()) die("real" + at, "entries must be numbers");
      if (im_row && !(*im_row)[c].is_number()) die("imag" + at, "entries must be numbers");
      m(r, c) = cplx(re[r][c].get<double>(), im_row ? (*im_row)[c].get<double>() : 0.0);
    }
  }
  return m;
}

}  // namespace nmrc
