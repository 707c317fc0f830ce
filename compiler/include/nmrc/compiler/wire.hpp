// Numbers on the wire between ranks (team.hpp), exactly: doubles as their bits (NaN and Inf
// travel too), in JSON (nlohmann) for the structure. The one serialiser of the ranks' results:
// GRAPE's starts and summaries (compiler/src/wire.hpp) and an experiment's pairs of runs
// (experiment/src/run.cpp) are built from these.
#pragma once

#include <algorithm>
#include <bit>
#include <complex>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "nmrc/core/error.hpp"
#include "nmrc/core/types.hpp"

namespace nmrc::compiler::wire {

using nlohmann::json;

inline json bits(double v) { return std::bit_cast<std::uint64_t>(v); }
inline double from_bits(const json& j) { return std::bit_cast<double>(j.get<std::uint64_t>()); }
inline json bits(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(bits(x));
  return a;
}
inline std::vector<double> vector_from_bits(const json& j) {
  std::vector<double> v;
  for (const auto& x : j) v.push_back(from_bits(x));
  return v;
}
/// Complex numbers as their real and imaginary parts' bits, interleaved.
inline json bits(const std::vector<cplx>& v) {
  json a = json::array();
  for (const cplx& x : v) {
    a.push_back(bits(x.real()));
    a.push_back(bits(x.imag()));
  }
  return a;
}
inline std::vector<cplx> complex_vector_from_bits(const json& j) {
  const std::vector<double> v = vector_from_bits(j);
  NMRC_CHECK(v.size() % 2 == 0, "a complex vector's size on the wire");
  std::vector<cplx> c(v.size() / 2);
  for (size_t i = 0; i < c.size(); ++i) c[i] = {v[2 * i], v[2 * i + 1]};
  return c;
}
inline json bits(const RMat& m) {
  std::vector<double> v(m.data(), m.data() + m.size());
  return {{"rows", m.rows()}, {"cols", m.cols()}, {"data", bits(v)}};
}
namespace detail {
// A matrix of type M from its shape and its entries in storage order, read by `entries` (the
// real or the complex vector reader); the shape is checked against the entries before the
// matrix is allocated.
template <class M, class Read>
M matrix_of(const json& j, Read entries) {
  const long rows = j.at("rows").get<long>(), cols = j.at("cols").get<long>();
  const auto v = entries(j.at("data"));
  NMRC_CHECK(rows >= 0 && cols >= 0 && (rows == 0 || cols == static_cast<long>(v.size()) / rows) &&
                 static_cast<long>(v.size()) == rows * cols,
             "a matrix's size on the wire");
  M m(rows, cols);
  std::copy(v.begin(), v.end(), m.data());
  return m;
}
}  // namespace detail
inline RMat matrix_from_bits(const json& j) {
  return detail::matrix_of<RMat>(j, [](const json& d) { return vector_from_bits(d); });
}
/// A complex matrix: its entries in storage order as interleaved real and imaginary bits.
inline json bits(const Mat& m) {
  return {{"rows", m.rows()},
          {"cols", m.cols()},
          {"data", bits(std::vector<cplx>(m.data(), m.data() + m.size()))}};
}
inline Mat complex_matrix_from_bits(const json& j) {
  return detail::matrix_of<Mat>(j, [](const json& d) { return complex_vector_from_bits(d); });
}

}  // namespace nmrc::compiler::wire
