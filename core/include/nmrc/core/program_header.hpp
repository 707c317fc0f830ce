// The header of every program kind (docs/program-format.md, "The header"): format, name,
// description, molecule and channel carriers, read by one function whatever the kind (pulse,
// acquisition, experiment, preparation, tomography and theory programs, readout sets). Each
// kind says which of the fields it has; a field it has is read the same way everywhere.
#pragma once

#include <string>
#include <vector>

#include "nmrc/core/molecule.hpp"
#include "nmrc/core/yaml_input.hpp"

namespace nmrc {

/// What every program kind shares.
struct ProgramHeader {
  std::string name;  ///< default: the file's stem
  std::string description;
  std::string path;           ///< the program file as given (or the name standing for it)
  std::string base_dir;       ///< relative paths in the program resolve against it
  std::string molecule_path;  ///< resolved relative to the program file
  Molecule molecule;          ///< with the program's channel carriers applied
};

/// Which header fields a program kind has (docs/program-format.md, "The header"); each
/// present field is read the same way whatever the kind.
struct HeaderRules {
  enum class Name {
    kNone,        ///< no `name` key
    kRequired,    ///< `name` must be given
    kOrFileStem,  ///< `name`, else the file's stem (which must itself be a name)
  };
  std::string format;            ///< the one `format` value the kind accepts; empty: no key
  bool format_required = false;  ///< `format` must be given (else it is optional)
  Name name = Name::kOrFileStem;
  bool description = true;  ///< an optional free-text `description`
  bool molecule = true;     ///< `molecule`: a file, required, relative to base_dir, loaded
  bool channels = false;    ///< `channels`: per channel `carrier_hz`, in the molecule's frame
};

/// The one header reader of every program kind (pulse, acquisition, experiment, preparation,
/// tomography and theory programs, readout sets): checks that `root` is a mapping whose keys are
/// the header fields `rules` names plus `kind_keys`, then reads format, name, description, molecule
/// (loaded) and channels in that order. Throws InputError at the first violation.
ProgramHeader read_program_header(const YamlField& root, const std::string& base_dir,
                                  const HeaderRules& rules,
                                  const std::vector<std::string>& kind_keys);

}  // namespace nmrc
