// libFuzzer target: nmrc-pulse/1 JSON (core/pulse_file.hpp), as `nmrc validate` reads it: the
// file and the pulse as an element of crotonic acid. (The target a file records is read by the
// compiler; fuzz_program reaches it through pulse files named in programs.)
#include "fuzz_support.hpp"
#include "nmrc/core/pulse_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nmrc::fuzz::expect_input_error_only([&] {
    const nmrc::PulseData p = nmrc::parse_pulse_json(text, "fuzz.json");
    const auto& m = nmrc::fuzz::crotonic_acid();
    (void)p.element(m);
  });
  return 0;
}
