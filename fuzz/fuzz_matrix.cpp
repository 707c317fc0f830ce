// libFuzzer target: matrix JSON (core/matrix_json.hpp) under the rules of a tomography state
// file (16 x 16, imag optional) and of a compiler unitary file (any square size, imag required).
#include "fuzz_support.hpp"
#include "nmrc/core/matrix_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto fail = [](const std::string& rule) { throw nmrc::InputError("fuzz.json: " + rule); };
  nmrc::fuzz::expect_input_error_only([&] {
    (void)nmrc::matrix_from_json(text, {16, /*imag_optional=*/true, ""}, fail);
  });
  nmrc::fuzz::expect_input_error_only([&] {
    (void)nmrc::matrix_from_json(text, {0, /*imag_optional=*/false, ""}, fail);
  });
  return 0;
}
