// The rules every loader inherits from core's input kit: YAML keys (duplicates, non-text keys,
// alias bombs), plain scalars for numbers, integer ranges, file reading limits, JSON locations,
// and durable atomic output (issue 13's defects 2, 3, 4, 5 and 8).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>
#include <vector>

#include "nmrc/core/error.hpp"
#include "nmrc/core/hash.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/json_input.hpp"
#include "nmrc/core/matrix_json.hpp"
#include "nmrc/core/molecule.hpp"
#include "nmrc/core/options.hpp"
#include "nmrc/core/pulse_file.hpp"
#include "nmrc/core/yaml_input.hpp"
#include "support/reference.hpp"

using namespace nmrc;
namespace fs = std::filesystem;

namespace {
fs::path scratch(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("nmrc-input-test-" + std::to_string(::getpid())) / name;
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST_CASE("YAML: a key given twice is refused with both places named") {
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(YamlField::load_string("name: a\nt2_s: 1\nt2_s: 2\n", "m.yaml"),
                         "m.yaml:3:1: t2_s: duplicate key (first given at m.yaml:2:1): give "
                         "each key once",
                         InputError);
    // Nested in a flow mapping inside a list, as in a molecule's nuclei.
    CHECK_THROWS_WITH_AS(
        YamlField::load_string("nuclei:\n  - {label: C1, t2_s: 0.8, t2_s: 0.5}\n", "m.yaml"),
        doctest::Contains(
            "m.yaml:2:28: nuclei[0].t2_s: duplicate key (first given at m.yaml:2:17)"),
        InputError);
    // Two readout `settings:` blocks.
    CHECK_THROWS_WITH_AS(
        YamlField::load_string("name: r\nsettings: [XXXX]\nsettings: [YYYY]\n", "r.yaml"),
        doctest::Contains("r.yaml:3:1: settings: duplicate key"), InputError);
  }
  SUBCASE("correctness") {
    const YamlField f = YamlField::load_string("a: 1\nb: {a: 2}\nc: [{a: 3}, {a: 4}]\n", "ok.yaml");
    CHECK(f.at("b").at("a").as_int() == 2);
  }
}

TEST_CASE("YAML: a key that is a list or a mapping is refused in every loader") {
  CHECK_THROWS_WITH_AS(YamlField::load_string("name: x\n[a, b]: 1\n", "k.yaml"),
                       "k.yaml:2:1: document: key [a, b] must be a plain name, not a list or "
                       "mapping",
                       InputError);
  CHECK_THROWS_WITH_AS(parse_molecule("name: x\nspectrometer: {[p]: 1}\n", "m.yaml"),
                       doctest::Contains("m.yaml:2:16: spectrometer: key [p] must be a plain name"),
                       InputError);
}

TEST_CASE("YAML: aliases cannot expand a small file into billions of nodes") {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    const char prev = static_cast<char>(c - 1);
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int k = 0; k < 10; ++k) bomb += std::string(k ? ", " : "") + "*" + prev;
    bomb += "]\n";
  }
  CHECK_THROWS_WITH_AS(YamlField::load_string(bomb, "bomb.yaml"),
                       doctest::Contains("bomb.yaml:1:1: document: more than 2000000 nodes"),
                       InputError);
}

TEST_CASE("YAML: numbers are plain scalars, integers are range-checked before use") {
  const YamlField f =
      YamlField::load_string("q: \"160\"\nb: 'true'\nn: 4294967296\nx: 2e9\n", "s.yaml");
  SUBCASE("validation") {
    CHECK_THROWS_WITH_AS(f.at("q").as_int(),
                         "s.yaml:1:4: q = \"160\": must be an integer (not a quoted text)",
                         InputError);
    CHECK_THROWS_WITH_AS(f.at("q").as_double(), doctest::Contains("must be a number"), InputError);
    CHECK_THROWS_WITH_AS(f.at("b").as_bool(), doctest::Contains("must be true or false"),
                         InputError);
    CHECK_THROWS_WITH_AS(f.at("n").as_int(16, 1L << 22),
                         "s.yaml:3:4: n = 4294967296: must be an integer between 16 and 4194304",
                         InputError);
    CHECK_THROWS_WITH_AS(f.at("x").as_int(1, 1000), doctest::Contains("must be an integer"),
                         InputError);
    CHECK_THROWS_WITH_AS(f.at("n").as_double(0, 1e6),
                         "s.yaml:3:4: n = 4294967296: must be between 0 and 1e+06", InputError);
    CHECK_THROWS_WITH_AS(f.at("n").as_positive(1e6), doctest::Contains("at most 1e+06"),
                         InputError);
  }
  SUBCASE("correctness") {
    CHECK(f.at("q").as_string() == "160");
    CHECK(f.at("n").as_int() == 4294967296L);
    CHECK(f.at("x").as_double() == 2e9);
  }
}

TEST_CASE("Molecules: physically meaningless values are refused by range") {
  const std::string path = ref::source_path("molecules/crotonic_acid.yaml");
  const std::string text = read_file(path);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  CHECK_THROWS_WITH_AS(
      parse_molecule(with("offset_hz: 5783.6,", "offset_hz: 1e308,"), "m.yaml"),
      doctest::Contains("nuclei[0].offset_hz = 1e308: must be between -1e+08 and 1e+08"),
      InputError);
  CHECK_THROWS_WITH_AS(parse_molecule(with("j_hz: 72.4", "j_hz: 1e300"), "m.yaml"),
                       doctest::Contains("couplings[0].j_hz = 1e300: must be between"), InputError);
  CHECK_THROWS_WITH_AS(parse_molecule(with("max_rf_hz: 10000.0", "max_rf_hz: 1e300"), "m.yaml"),
                       doctest::Contains("max_rf_hz = 1e300: must be > 0 and at most 1e+07"),
                       InputError);
  CHECK(parse_molecule(text, "m.yaml").size() == 4);
}

TEST_CASE("read_file: directories, devices and huge files are refused before memory fills") {
  const fs::path d = scratch("read");
  CHECK_THROWS_WITH_AS(read_file(d.string()), (d.string() + ": is a directory, not a file").c_str(),
                       InputError);
  CHECK_THROWS_WITH_AS(read_file("/dev/zero", 1 << 20),
                       "/dev/zero: file is larger than the limit of 1 MiB for this input "
                       "(docs/limits.md)",
                       InputError);
  // Messages name the file as given, not its basename.
  CHECK_THROWS_WITH_AS(YamlField::load_file("/dev/zero"),
                       doctest::Contains("/dev/zero: file is larger"), InputError);
  CHECK_THROWS_WITH_AS(YamlField::load_file(d.string()), doctest::Contains("is a directory"),
                       InputError);
}

TEST_CASE("write_file_atomic: durable output, and temporaries of killed runs removed") {
  const fs::path d = scratch("write");
  const std::string target = (d / "out.json").string();
  // A temporary of a killed run (nmrc's name, older than kStaleTempAgeS), one of a live run
  // (fresh), and files of the user that merely look alike: none of those is nmrc's.
  const fs::path stale = d / (std::string(kTempPrefix) + "0123456789abcdef");
  const fs::path live = d / (std::string(kTempPrefix) + "fedcba9876543210");
  const std::vector<fs::path> users = {d / "thesis.tmp2023", d / "out.json.tmp4194305",
                                       d / (std::string(kTempPrefix) + "notmine"),
                                       d / (std::string(kTempPrefix) + "0123456789ABCDEF")};
  for (const auto& f : users) std::ofstream(f) << "keep";
  std::ofstream(stale) << "half";
  std::ofstream(live) << "busy";
  const auto old = fs::file_time_type::clock::now() - std::chrono::seconds(2 * kStaleTempAgeS);
  fs::last_write_time(stale, old);
  for (const auto& f : users) fs::last_write_time(f, old);
  write_file_atomic(target, "{\"a\": 1}\n");
  CHECK(read_file(target) == "{\"a\": 1}\n");
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(live));
  for (const auto& f : users) CHECK(read_file(f.string()) == "keep");
  // No temporary of this write is left behind: what remains is the user's files and the live one.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(d)) names.push_back(e.path().filename().string());
  CHECK(names.size() == users.size() + 2);  // and out.json
  CHECK_THROWS_AS(write_file_atomic((d / "missing" / "x").string(), "x"), InputError);
  CHECK_THROWS_WITH_AS(write_file_atomic(d.string(), "x"), doctest::Contains("is a folder"),
                       InputError);
  // An output folder is checked before long work without creating anything.
  check_output_folder((d / "new" / "deeper").string());
  CHECK_FALSE(fs::exists(d / "new"));
  CHECK_THROWS_WITH_AS(check_output_folder((d / "out.json" / "sub").string()),
                       doctest::Contains("is a file, not a folder"), InputError);
}

TEST_CASE("write_file_atomic: a planted symbolic link is never followed") {
  const fs::path d = scratch("links");
  const fs::path outside = scratch("outside");
  const fs::path victim = outside / "victim.txt";
  std::ofstream(victim) << "original";
  SUBCASE("a link at the target's name is replaced, its target unchanged") {
    fs::create_symlink(victim, d / "spectrum.csv");
    write_file_atomic((d / "spectrum.csv").string(), "new");
    CHECK_FALSE(fs::is_symlink(d / "spectrum.csv"));
    CHECK(read_file((d / "spectrum.csv").string()) == "new");
  }
  SUBCASE("a subfolder that is a link is refused, for files and for folders below it") {
    fs::create_directory_symlink(outside, d / "lists");
    CHECK_THROWS_WITH_AS(write_file_atomic((d / "lists" / "victim.txt").string(), "evil"),
                         doctest::Contains("lists: is a symbolic link"), ResourceError);
    CHECK_THROWS_WITH_AS(make_directories((d / "lists" / "pp").string()),
                         doctest::Contains("lists: is a symbolic link"), ResourceError);
    CHECK_FALSE(fs::exists(outside / "pp"));
    // The user's own link, resolved once by output_path (what the CLI does with --out), is fine.
    const std::string real = output_path((d / "lists").string());
    CHECK(real == fs::canonical(outside).string());
    write_file_atomic(real + "/new.txt", "ok");
    CHECK(read_file((outside / "new.txt").string()) == "ok");
  }
  CHECK(read_file(victim.string()) == "original");
}

TEST_CASE("write_file_atomic: concurrent writers of one file never clash") {
  const fs::path d = scratch("race");
  const std::string target = (d / "shared.json").string();
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) try {
          write_file_atomic(target, std::string(1000 + t, char('a' + t)));
        } catch (const std::exception&) {
          ++failures;
        }
    });
  for (auto& t : ts) t.join();
  CHECK(failures == 0);
  const std::string got = read_file(target);
  CHECK(got.size() >= 1000);
  CHECK(got == std::string(got.size(), got[0]));  // one writer's whole content
}

TEST_CASE("caches: trusted only when this user owns them and nobody else can write") {
  const fs::path base = scratch("cache");
  std::vector<std::string> warned;
  set_cache_warning_handler([&](const std::string& m) { warned.push_back(m); });
  SUBCASE("correctness") {
    const std::string dir = (base / "a" / "b").string();
    CHECK(cache_usable(dir));
    CHECK((fs::status(dir).permissions() & fs::perms::all) == fs::perms::owner_all);
    CHECK(write_cache_file(dir, "k.json", "entry"));
    CHECK(read_cache_file(dir, "k.json") == std::optional<std::string>("entry"));
    CHECK_FALSE(read_cache_file(dir, "none.json"));
    CHECK_FALSE(read_cache_file(dir, "k.json", 3));  // larger than the limit: not an entry
    CHECK(cache_file_names(dir, ".json", 10) == std::vector<std::string>{"k.json"});
    CHECK(warned.empty());
  }
  SUBCASE("a folder others can write is not used, and said once") {
    const std::string dir = (base / "shared").string();
    CHECK(cache_usable(dir));
    CHECK(write_cache_file(dir, "k.json", "forged by anyone"));
    fs::permissions(dir, fs::perms::others_write | fs::perms::group_write, fs::perm_options::add);
    CHECK_FALSE(read_cache_file(dir, "k.json"));
    CHECK_FALSE(write_cache_file(dir, "k2.json", "x"));
    CHECK(cache_file_names(dir, ".json", 10).empty());
    REQUIRE(warned.size() == 1);
    CHECK(warned[0].find("writable by group or others (mode 0722)") != std::string::npos);
    CHECK(warned[0].find("caching is off") != std::string::npos);
  }
  SUBCASE("a folder of another user is not used") {
    const std::string dir = (base / "theirs").string();
    CHECK(cache_usable(dir));
    CHECK(write_cache_file(dir, "k.json", "x"));
    if (::geteuid() == 0 && ::chown(dir.c_str(), 65534, 65534) == 0) {
      CHECK_FALSE(read_cache_file(dir, "k.json"));
      REQUIRE(warned.size() == 1);
      CHECK(warned[0].find("owned by another user (uid 65534)") != std::string::npos);
    } else {
      MESSAGE("not root: the other-owner case is covered by tests/cli/reliability.sh");
    }
  }
  SUBCASE("an entry that is a link is not read") {
    const std::string dir = (base / "links").string();
    CHECK(cache_usable(dir));
    std::ofstream(base / "elsewhere.json") << "planted";
    fs::create_symlink(base / "elsewhere.json", fs::path(dir) / "k.json");
    CHECK_FALSE(read_cache_file(dir, "k.json"));
    CHECK(cache_file_names(dir, ".json", 10).empty());
  }
  set_cache_warning_handler({});
}

TEST_CASE("JSON: every error carries line:column") {
  const std::string text = "{\n \"a\": {\"b\": [1, 2,\n   3]},\n \"c\": \"x\"\n}\n";
  CHECK(json_location(text, "a") == "2:7");
  CHECK(json_location(text, "a.b[2]") == "3:4");
  CHECK(json_location(text, "c") == "4:7");
  CHECK(json_location(text, "a.missing") == "2:7");  // where the key is missing
  CHECK(json_location(text, "(document)") == "1:1");

  const std::string pulse = read_file(ref::source_path("sequences/gates/compiled/rx90_c1.json"));
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = pulse;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  CHECK_THROWS_WITH_AS(
      parse_pulse_json(with("\"nominal\": ", "\"nominal\": \"high\", \"x\": "), "p.json"),
      doctest::Contains("p.json:"), InputError);
  try {
    parse_pulse_json(with("\"nominal\": ", "\"nominal\": \"high\", \"x\": "), "p.json");
  } catch (const InputError& e) {
    const std::string m = e.what();
    CHECK(m.find("fidelity.nominal = \"high\": must be a number") != std::string::npos);
    CHECK(m.rfind("p.json:", 0) == 0);
    CHECK(m.find(json_location(with("\"nominal\": ", "\"nominal\": \"high\", \"x\": "),
                               "fidelity.nominal")) != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(parse_pulse_json(with("\"dt_s\": ", "\"dt_s\": 1e400, \"y\": "), "p.json"),
                       doctest::Contains("invalid JSON: [json.exception.out_of_range.406] number "
                                         "overflow parsing '1e400'"),
                       InputError);
  // Matrix files: the entry, with its place in the file.
  auto fail = [](const std::string& rule) { throw InputError(rule); };
  CHECK_THROWS_WITH_AS(
      matrix_from_json("{\"real\": [[1, 0], [0, \"abc\"]],\n \"imag\": [[0, 0], [0, 0]]}",
                       {0, false, "u.json"}, fail),
      "u.json:1:23: real[1][1]: entries must be numbers", InputError);
  CHECK_THROWS_WITH_AS(matrix_from_json("{\"real\": [[1e400]]}", {0, true, "u.json"}, fail),
                       doctest::Contains("u.json:1:12: invalid JSON"), InputError);
}

TEST_CASE("content hash: FNV-1a's steps with nmrc's offset basis, values fixed by shipped files") {
  // The empty input is the basis; the others computed independently (Python, same definition).
  // These values key the shipped pulses' provenance and every cache: they must not change.
  CHECK(content_hash64("") == 1469598103934665603ull);
  CHECK(content_hash64("a") == 4953267810257967366ull);
  CHECK(content_hash64("foobar") == 9870438755804841970ull);
  CHECK(content_hash_hex("") == "14650fb0739d0383");
  CHECK(content_hash_hex("a") == "44bd8ad473cd9906");
  CHECK(content_hash_hex("foobar") == "88fad7c0a8ff07f2");
}

TEST_CASE("options checks: the rule text comes from the rule, the first violation wins") {
  using R = OptionRule;
  SUBCASE("each rule: its predicate and its text") {
    auto first = [](double v, const OptionRule& r) {
      OptionChecks c;
      c.check("x", v, r);
      return c.problem() ? c.problem()->message("opts") : std::string("ok");
    };
    CHECK(first(0, R::greater_than(0)) == "opts: x = 0: must be > 0");
    CHECK(first(1e-300, R::greater_than(0)) == "ok");
    CHECK(first(-1, R::at_least(0)) == "opts: x = -1: must be >= 0");
    CHECK(first(0, R::at_least(0)) == "ok");
    CHECK(first(101, R::at_most(100).unit("s").note("docs/limits.md")) ==
          "opts: x = 101: must be at most 100 s (docs/limits.md)");
    CHECK(first(0, R::in_open_closed(0, 1)) == "opts: x = 0: must be in (0, 1]");
    CHECK(first(1, R::in_open_closed(0, 1)) == "ok");
    CHECK(first(11, R::greater_than(0).and_at_most(10)) ==
          "opts: x = 11: must be > 0 and at most 10");
    CHECK(first(-2e8, R::between(-1e8, 1e8).unit("Hz")) ==
          "opts: x = -2e+08: must be between -1e+08 and 1e+08 Hz");
    // A NaN fails every rule; an infinity fails finite ones.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    for (const auto& r : {R::greater_than(0), R::at_least(0), R::at_most(1), R::between(0.0, 1.0),
                          R::in_open_closed(0, 1), R::finite()})
      CHECK(first(nan, r) != "ok");
    CHECK(first(inf, R::greater_than(0)) == "ok");
    CHECK(first(inf, R::greater_than(0).and_finite()) == "opts: x = inf: must be > 0");
    CHECK(first(inf, R::finite()) == "opts: x = inf: must be finite");
  }
  SUBCASE("integers in full, lists, constraints between options, the first problem") {
    OptionChecks c;
    c.check("steps", 0, R::between(1L, 1000000L));
    REQUIRE(c.problem());
    CHECK(c.problem()->message("o") == "o: steps = 0: must be between 1 and 1000000");
    c.check("later", -1.0, R::at_least(0));  // a later violation does not replace the first
    CHECK(c.problem()->field == "steps");
    CHECK_THROWS_WITH_AS(c.throw_if_any("o"), "o: steps = 0: must be between 1 and 1000000",
                         InputError);
    OptionChecks l;
    l.check_not_empty("scale", {1.0, 2.0}, "value")
        .check_each("scale", {1.0, -0.5, 2.0}, R::greater_than(0), "B1 scale");
    CHECK(l.problem()->message("o") == "o: scale = [1, -0.5, 2]: every B1 scale must be > 0");
    OptionChecks e;
    e.check_not_empty("offsets", {}, "offset (0 for none)");
    CHECK(e.problem()->message("o") ==
          "o: offsets = []: must list at least one offset (0 for none)");
    OptionChecks r;
    r.require(true, "a", "1", "never").require(false, "quadrature", "3", "needs uniform weights");
    CHECK(r.problem()->message("o") == "o: quadrature = 3: needs uniform weights");
    OptionChecks fine;
    fine.check("x", 1.0, R::greater_than(0)).require(true, "y", "", "");
    CHECK_FALSE(fine.problem());
    CHECK_NOTHROW(fine.throw_if_any("o"));
  }
}
