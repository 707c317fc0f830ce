// libFuzzer target: TopSpin shape files (core/bruker_shape.hpp, docs/bruker.md) and the pulse
// they become on crotonic acid's 13C channel.
#include "fuzz_support.hpp"
#include "nmrc/core/bruker_shape.hpp"
#include "nmrc/core/pulse_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nmrc::fuzz::expect_input_error_only([&] {
    const nmrc::BrukerShape s = nmrc::parse_bruker_shape(text, "fuzz.shape");
    const nmrc::PulseData p = nmrc::pulse_data_from_bruker_shape(s, "13C", 1e-3, 10000.0);
    (void)p.element(nmrc::fuzz::crotonic_acid());
  });
  return 0;
}
