// The experiment's resume key (ExperimentProgram::text_hash): a finished case is reused only
// when nothing it was computed from changed, not only the program's own text; and a pulse
// compiled for an edited program is filed under what it implements (issue 27).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "nmrc/core/io.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/experiment/pulses.hpp"
#include "nmrc/experiment/run.hpp"
#include "support/reference.hpp"

using namespace nmrc;
namespace fs = std::filesystem;

TEST_CASE("experiment: the resume key covers every file the program names") {
  const fs::path dir = fs::temp_directory_path() / "nmrc_experiment_resume_key_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "compiled");
  for (const char* f : {"molecules/crotonic_acid.yaml", "sequences/heat_flow/fig3.yaml",
                        "sequences/readout/paper17_completed.yaml"})
    fs::copy_file(ref::source_path(f), dir / fs::path(f).filename());
  write_file_atomic((dir / "program.yaml").string(),
                    "format: nmrc-experiment/1\nmolecule: crotonic_acid.yaml\n"
                    "theory: fig3.yaml\nreadout: paper17_completed.yaml\ncompiled: compiled\n"
                    "measure: [1]\ncases:\n  - {run: c_0}\n");
  const std::string program = (dir / "program.yaml").string();
  const std::string k0 = experiment::load_experiment_program(program).text_hash;
  CHECK(experiment::load_experiment_program(program).text_hash == k0);  // deterministic

  auto edit = [&](const std::string& file, const std::string& from, const std::string& to) {
    std::string s = read_file((dir / file).string());
    REQUIRE(s.find(from) != std::string::npos);
    s.replace(s.find(from), from.size(), to);
    write_file_atomic((dir / file).string(), s);
  };
  // C1's T2 in the molecule.
  edit("crotonic_acid.yaml", "t2_s: 0.84", "t2_s: 0.85");
  const std::string k1 = experiment::load_experiment_program(program).text_hash;
  CHECK(k1 != k0);
  // The theory (bath temperature) and the readout set's description.
  edit("fig3.yaml", "bath_temperature: 0.9", "bath_temperature: 0.91");
  const std::string k2 = experiment::load_experiment_program(program).text_hash;
  CHECK(k2 != k1);
  edit("paper17_completed.yaml", "name: paper17_completed", "name: paper17_edited");
  const std::string k3 = experiment::load_experiment_program(program).text_hash;
  CHECK(k3 != k2);
  // A pulse appearing in, or changing in, the compiled folder.
  write_file_atomic((dir / "compiled" / "p.json").string(), "{}");
  const std::string k4 = experiment::load_experiment_program(program).text_hash;
  CHECK(k4 != k3);
  write_file_atomic((dir / "compiled" / "p.json").string(), "{ }");
  CHECK(experiment::load_experiment_program(program).text_hash != k4);
  fs::remove_all(dir);
}

TEST_CASE("experiment: a pulse compiled for an edited program never replaces another file") {
  const fs::path dir = fs::temp_directory_path() / "nmrc_experiment_pulse_name_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "compiled");
  // A file with the name the old scheme used (the need's name), holding something else.
  write_file_atomic((dir / "compiled" / "rot_all.json").string(), "shipped\n");
  const Molecule m = load_molecule(ref::source_path("molecules/crotonic_acid.yaml"));
  experiment::PulseLibrary lib(m, (dir / "compiled").string(), "", experiment::CompileMode::kAuto,
                               nlohmann::json::object());
  experiment::PulseNeed need;
  need.name = "rot_all";
  need.kind = "test";
  need.purpose = "test";
  need.target = {{"gate", "rotation"},
                 {"spins", {"C1", "C2", "C3", "C4"}},
                 {"angle_rad", 1.5707963267948966},
                 {"phase_rad", 0.0}};
  compiler::CompileOptions o;
  o.duration_s = 1e-4;
  o.steps = 20;
  o.starts = 1;
  o.threads = 1;
  o.b1_scale = {1.0};
  o.fidelity_target = 0.5;
  const auto& r = lib.get(need, o);
  CHECK(read_file((dir / "compiled" / "rot_all.json").string()) == "shipped\n");
  CHECK(fs::path(r.file).filename().string().rfind("rot_all_", 0) == 0);
  CHECK(fs::exists(r.file));
  fs::remove_all(dir);
}

TEST_CASE("experiment: a pulse's provenance never records a path of this machine") {
  using experiment::recorded_program_path;
  CHECK(recorded_program_path("sequences/experiment/fig3.yaml") ==
        "sequences/experiment/fig3.yaml");
  CHECK(recorded_program_path("./sequences/../sequences/fig3.yaml") == "sequences/fig3.yaml");
  const fs::path cwd = fs::current_path();
  CHECK(recorded_program_path((cwd / "sub" / "fig3.yaml").string()) == "sub/fig3.yaml");
  // Outside the working folder: the file name alone.
  CHECK(recorded_program_path("/elsewhere/machine/path/fig3.yaml") ==
        (cwd.string().rfind("/elsewhere", 0) == 0 ? "machine/path/fig3.yaml" : "fig3.yaml"));
  CHECK(recorded_program_path((cwd.parent_path() / "other" / "p.yaml").string()) == "p.yaml");
}
