// libFuzzer target: tomography readout sets (spectrometer/readout.hpp, docs/tomography.md) for
// crotonic acid.
#include "fuzz_support.hpp"
#include "nmrc/spectrometer/readout.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nmrc::fuzz::expect_input_error_only([&] {
    (void)nmrc::spectrometer::parse_readout(text, "fuzz.yaml", nmrc::fuzz::crotonic_acid());
  });
  return 0;
}
