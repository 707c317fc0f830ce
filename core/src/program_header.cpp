#include "nmrc/core/program_header.hpp"

#include <filesystem>
#include <optional>

#include "nmrc/core/error.hpp"
#include "nmrc/core/limits.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc {

ProgramHeader read_program_header(const YamlField& root, const std::string& base_dir,
                                  const HeaderRules& rules,
                                  const std::vector<std::string>& kind_keys) {
  root.expect_map();
  std::vector<std::string> keys;
  if (!rules.format.empty()) keys.push_back("format");
  if (rules.name != HeaderRules::Name::kNone) keys.push_back("name");
  if (rules.description) keys.push_back("description");
  if (rules.molecule) keys.push_back("molecule");
  if (rules.channels) keys.push_back("channels");
  keys.insert(keys.end(), kind_keys.begin(), kind_keys.end());
  root.allow_keys(keys);

  ProgramHeader h;
  h.path = root.file();
  h.base_dir = base_dir;
  if (!rules.format.empty()) {
    const std::optional<YamlField> f =
        rules.format_required ? std::optional<YamlField>(root.at("format")) : root.find("format");
    if (f && f->as_string() != rules.format) f->fail("must be " + rules.format);
  }
  if (rules.name == HeaderRules::Name::kRequired) {
    h.name = root.at("name").as_name();
  } else if (rules.name == HeaderRules::Name::kOrFileStem) {
    h.name = root.has("name") ? root.at("name").as_name()
                              : std::filesystem::path(root.file()).stem().string();
    if (!is_safe_name(h.name))
      throw InputError(root.location() + ": name: the program has no name and its file name \"" +
                       escape_text(h.name) + "\" is not one (" + kNameRule + "): give name:");
  }
  if (rules.description)
    if (auto d = root.find("description")) h.description = d->as_string();
  if (rules.molecule) {
    const YamlField mf = root.at("molecule");
    h.molecule_path = mf.as_input_file(h.base_dir);
    h.molecule = load_molecule(h.molecule_path);
  }
  if (rules.channels)
    if (auto ch = root.find("channels")) {
      ch->expect_map();
      for (const auto& [name, cf] : ch->entries()) {
        const int c = h.molecule.channel_index(name);
        if (c < 0)
          cf.fail("unknown channel " + name + " (known: " + h.molecule.channels_text() + ")");
        cf.expect_map();
        cf.allow_keys({"carrier_hz"});
        if (auto cr = cf.find("carrier_hz"))
          h.molecule.channels[c].carrier_hz =
              cr->as_double(-limits::kMaxOffsetHz, limits::kMaxOffsetHz);
      }
    }
  return h;
}

}  // namespace nmrc
