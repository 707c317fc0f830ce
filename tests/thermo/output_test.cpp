// The theory's result files (thermo/output.hpp): steps.csv's header and rows come from one list
// of columns, so every row has the header's cell count and each named column holds its value;
// write_theory_files writes every file of a program. (The CLI writes the same bytes: the
// Python test test_theory_files_same_as_cli compares them.)
#include "nmrc/thermo/output.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "nmrc/core/io.hpp"
#include "paper_params.hpp"

using namespace nmrc;
using namespace nmrc::thermo;

namespace {

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string c;
  while (std::getline(ss, c, ',')) out.push_back(c);
  if (!line.empty() && line.back() == ',') out.push_back("");
  return out;
}

}  // namespace

TEST_CASE("steps.csv: one column list, every value under its header") {
  TheoryProgram prog;
  prog.name = "t";
  prog.source = "t.yaml";
  RunSpec r;
  r.name = "c_minus";
  r.title = "c = -0.5";
  r.params = testing::fig3(-0.5, 3);
  prog.runs = {r};
  const auto results = run_theory_program(prog);
  REQUIRE(results.size() == 1);
  const Trajectory& t = *results[0].trajectory;
  const std::string csv = steps_csv(prog.runs[0], t);
  std::stringstream ss(csv);
  std::string line;
  std::getline(ss, line);
  const auto header = cells(line);
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  CHECK(col.size() == header.size());  // no header twice
  // 4 + 4 per subsystem + 2 AT columns per subsystem + 9 + 1 per subsystem + 4
  const size_t n = 3;
  CHECK(header.size() == 4 + 4 * n + 2 * n + 9 + n + 4);
  size_t rows = 0;
  while (std::getline(ss, line)) {
    const auto c = cells(line);
    REQUIRE(c.size() == header.size());
    const StepRecord& s = t.steps[rows];
    CHECK(std::stoi(c[col["step"]]) == s.step);
    CHECK(std::stod(c[col["E_S2"]]) == doctest::Approx(s.energy[1]).epsilon(1e-9));
    CHECK(std::stod(c[col["heat_to_bath"]]) ==
          doctest::Approx(s.heat_to_bath).epsilon(1e-9).scale(1e-12));
    CHECK(c[col["AT_S1_defined"]] == (s.at.subsystem[0].value ? "1" : "0"));
    ++rows;
  }
  CHECK(rows == t.steps.size());
}

TEST_CASE("write_theory_files: every file of a trajectory run with the master equation") {
  TheoryProgram prog;
  prog.name = "t";
  prog.source = "t.yaml";
  RunSpec r;
  r.name = "c0";
  r.title = "c = 0";
  r.params = testing::fig3(0.0, 2);
  r.master_equation = true;
  prog.runs = {r};
  const auto results = run_theory_program(prog);
  const auto dir =
      std::filesystem::temp_directory_path() / ("nmrc-output-test-" + std::to_string(::getpid()));
  write_theory_files(prog, results, dir.string());
  for (const char* f : {"summary.json", "c0/steps.csv", "c0/directions.csv", "c0/summary.json",
                        "c0/master_equation.csv"})
    CHECK(std::filesystem::file_size(dir / f) > 0);
  const std::string me = read_file((dir / "c0/summary.json").string());
  CHECK(me.find("abs = rel tol 1e-10") != std::string::npos);  // kMasterEquationTolerance
  std::filesystem::remove_all(dir);
}
