// libFuzzer target: molecule YAML (core/molecule.hpp, docs/molecule-format.md), then the line
// list that `nmrc molecule show` prints.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nmrc::fuzz::expect_input_error_only([&] {
    const nmrc::Molecule m = nmrc::parse_molecule(text, "fuzz.yaml");
    (void)m.lines();
  });
  return 0;
}
