// libFuzzer target: TopSpin experiment folders (spectrometer/bruker_dataset.hpp): the input up to
// and including the first "##END=" line is `acqus` (JCAMP-DX), the bytes after it are `fid`;
// then the FID in crotonic acid's frame, as `nmrc acquire --from-bruker` reads it.
#include "fuzz_support.hpp"
#include "nmrc/spectrometer/bruker_dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  size_t split = size;  // no ##END= line: everything is acqus, the fid is empty
  if (const size_t end = text.find("##END="); end != std::string::npos) {
    const size_t newline = text.find('\n', end);
    split = newline == std::string::npos ? size : newline + 1;
  }
  nmrc::fuzz::write_input("bruker/acqus", data, split);
  nmrc::fuzz::write_input("bruker/fid", data + split, size - split);
  nmrc::fuzz::expect_input_error_only([&] {
    const auto d =
        nmrc::spectrometer::read_bruker_dataset((nmrc::fuzz::scratch_tree() / "bruker").string());
    (void)nmrc::spectrometer::fid_from_bruker(d, nmrc::fuzz::crotonic_acid());
  });
  return 0;
}
