// libFuzzer target: every program kind through its loader (the one front end,
// core/program_front_end.hpp, and each kind's extension). The first byte picks the kind; the
// rest is the program file, written beside the shipped programs of that kind so that their
// relative paths (molecules, pulse files, readout sets, state files) resolve.
#include "fuzz_support.hpp"
#include "nmrc/compiler/program.hpp"
#include "nmrc/experiment/program.hpp"
#include "nmrc/spectrometer/acquire_program.hpp"
#include "nmrc/spectrometer/preparation_run.hpp"
#include "nmrc/spectrometer/tomography_run.hpp"
#include "nmrc/thermo/program.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int kind = data[0] % 6;
  static const char* const kFolder[6] = {"gates",     "demos",      "preparation",
                                         "heat_flow", "tomography", "experiment"};
  const std::string path = nmrc::fuzz::write_input(
      std::string("sequences/") + kFolder[kind] + "/fuzz_input.yaml", data + 1, size - 1);
  nmrc::fuzz::expect_input_error_only([&] {
    switch (kind) {
      case 0:
        (void)nmrc::compiler::load_program(path);
        break;
      case 1:
        (void)nmrc::spectrometer::load_acquire_program(path);
        break;
      case 2:
        (void)nmrc::spectrometer::load_preparation_program(path);
        break;
      case 3:
        (void)nmrc::thermo::load_theory_program(path);
        break;
      case 4:
        (void)nmrc::spectrometer::load_tomography_program(path);
        break;
      default:
        (void)nmrc::experiment::load_experiment_program(path);
        break;
    }
  });
  return 0;
}
