// Numbers on the wire between ranks (compiler/team.hpp), exactly: doubles as their bits (NaN
// and Inf travel too), in JSON (nlohmann) for the structure. Private to the compiler.
#pragma once

#include <bit>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "nmrc/compiler/grape.hpp"
#include "nmrc/core/error.hpp"

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
inline json bits(const RMat& m) {
  std::vector<double> v(m.data(), m.data() + m.size());
  return {{"rows", m.rows()}, {"cols", m.cols()}, {"data", bits(v)}};
}
inline RMat matrix_from_bits(const json& j) {
  RMat m(j.at("rows").get<long>(), j.at("cols").get<long>());
  const std::vector<double> v = vector_from_bits(j.at("data"));
  NMRC_CHECK(static_cast<long>(v.size()) == m.size(), "a matrix's size on the wire");
  std::copy(v.begin(), v.end(), m.data());
  return m;
}

inline json start_json(const StartSummary& s) {
  return {{"start", s.start},
          {"initial", s.initial},
          {"termination", static_cast<int>(s.termination)},
          {"iterations", s.iterations},
          {"evaluations", s.evaluations},
          {"fidelity_min", bits(s.fidelity_min)},
          {"wall_s", bits(s.wall_s)},
          {"message", s.message},
          {"full_grid_evaluations", s.full_grid_evaluations},
          {"coarse_evaluations", s.coarse_evaluations},
          {"endgame_evaluations", s.endgame_evaluations},
          {"gauss_newton_jacobians", s.gauss_newton_jacobians}};
}

inline StartSummary start_from_json(const json& j) {
  StartSummary s;
  s.start = j.at("start").get<int>();
  s.initial = j.at("initial").get<std::string>();
  s.termination = static_cast<Termination>(j.at("termination").get<int>());
  s.iterations = j.at("iterations").get<int>();
  s.evaluations = j.at("evaluations").get<int>();
  s.fidelity_min = from_bits(j.at("fidelity_min"));
  s.wall_s = from_bits(j.at("wall_s"));
  s.message = j.at("message").get<std::string>();
  s.full_grid_evaluations = j.at("full_grid_evaluations").get<int>();
  s.coarse_evaluations = j.at("coarse_evaluations").get<int>();
  s.endgame_evaluations = j.at("endgame_evaluations").get<int>();
  s.gauss_newton_jacobians = j.at("gauss_newton_jacobians").get<int>();
  return s;
}

}  // namespace nmrc::compiler::wire
