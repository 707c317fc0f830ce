// GRAPE's start summaries on the wire between ranks (compiler/team.hpp), exactly, with the
// public wire helpers (nmrc/compiler/wire.hpp: doubles as their bits). Private to the compiler.
#pragma once

#include "nmrc/compiler/grape.hpp"
#include "nmrc/compiler/wire.hpp"

namespace nmrc::compiler::wire {

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
