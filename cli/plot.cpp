#include "plot.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include "nmrc/core/error.hpp"
#include "nmrc/core/io.hpp"
#include "nmrc/core/text.hpp"

namespace nmrc::cli {

std::string gnuplot_quote(const std::string& s) {
  // gnuplot expands backquotes (a shell command) and backslash escapes inside double-quoted
  // strings only; a single-quoted string is taken literally but for '' (one quote). A line
  // break would end the command, so control characters never reach the script (the loaders
  // refuse them already: core/text.hpp; this is the second wall).
  if (auto problem = text_problem(s))
    throw InputError("figure text '" + escape_text(s) + "': " + *problem);
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string gnuplot_output(const std::string& terminal, int width_px, int height_px,
                           const std::string& options, const std::string& out) {
  return "set terminal " + terminal + " size " + std::to_string(width_px) + "," +
         std::to_string(height_px) + " " + options + "\nset output " + gnuplot_quote(out) + "\n";
}

namespace {

std::string script(const Figure& fig, const std::string& terminal, const std::string& out) {
  std::ostringstream os;
  os.precision(10);
  int block = 0;
  for (const auto& p : fig.panels)
    for (const auto& s : p.series) {
      os << "$d" << block++ << " << EOD\n";
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        os << s.x[i] << " " << s.y[i];
        if (s.yerr.size() == s.x.size()) os << " " << s.yerr[i];
        os << "\n";
      }
      os << "EOD\n";
    }
  os << gnuplot_output(terminal, fig.width_px, fig.height_px, "noenhanced font \"sans,11\"", out);
  os << "set grid lc rgb '#dddddd'\n";
  if (fig.panels.size() > 1 || !fig.title.empty())
    os << "set multiplot layout " << fig.rows << "," << fig.cols
       << (fig.title.empty() ? "" : " title " + gnuplot_quote(fig.title)) << "\n";
  block = 0;
  for (const auto& p : fig.panels) {
    os << "set title " << gnuplot_quote(p.title) << "\nset xlabel " << gnuplot_quote(p.xlabel)
       << "\nset ylabel " << gnuplot_quote(p.ylabel) << "\nset key " << p.key << "\n";
    os << (p.reverse_x ? "set xrange [*:*] reverse\n" : "set xrange [*:*] noreverse\n");
    if (std::isfinite(p.ymin) && std::isfinite(p.ymax))
      os << "set yrange [" << p.ymin << ":" << p.ymax << "]\n";
    else
      os << "set yrange [*:*]\n";
    os << "unset label\n";
    int li = 1;
    for (const auto& l : p.labels)
      os << "set label " << li++ << " " << gnuplot_quote(l.text) << " at " << l.x << "," << l.y
         << " center front font \",8\"\n";
    os << "plot ";
    for (size_t i = 0; i < p.series.size(); ++i) {
      const auto& s = p.series[i];
      if (i) os << ", ";
      const bool err = s.yerr.size() == s.x.size() && !s.x.empty();
      os << "$d" << block++ << (err ? " using 1:2:3 with yerrorbars" : " using 1:2 with " + s.style)
         << " lw " << s.width;
      if (s.color >= 0) os << " lc " << s.color;
      if (s.dashed) os << " dt 2";
      os << " title " << gnuplot_quote(s.title);
    }
    if (p.series.empty()) os << "NaN notitle";
    os << "\n";
  }
  if (fig.panels.size() > 1 || !fig.title.empty()) os << "unset multiplot\n";
  os << "set output\n";
  return os.str();
}

// A picture as gnuplot writes it when it finished: PNG's signature and its IEND chunk last,
// or SVG's closing tag. A full disk or a killed gnuplot leaves a file cut short.
bool complete_picture(const std::string& b, const std::string& ext) {
  if (ext == ".png") {
    static const char kSig[] = "\x89PNG\r\n\x1a\n";
    static const char kIend[] = "\0\0\0\0IEND\xae\x42\x60\x82";
    return b.size() >= 8 + 12 && b.compare(0, 8, kSig, 8) == 0 &&
           b.compare(b.size() - 12, 12, kIend, 12) == 0;
  }
  const size_t end = b.find_last_not_of(" \t\r\n");
  return end != std::string::npos && end >= 5 && b.compare(end - 5, 6, "</svg>") == 0 &&
         b.find("<svg") != std::string::npos;
}

// The last non-empty line gnuplot printed (escaped: it may quote the script), for messages.
std::string last_line(const std::string& text) {
  const size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  const size_t begin = text.rfind('\n', end);
  std::string line = text.substr(begin == std::string::npos ? 0 : begin + 1,
                                 end + 1 - (begin == std::string::npos ? 0 : begin + 1));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return escape_text(line);
}

// Runs gnuplot on `script` in a private temporary folder (mode 0700): the script says
// "set output 'figure<ext>'", a fixed name, so no input text is ever in an output path. Checks
// gnuplot's exit status and that the picture is complete, then moves it into `path` through
// write_file_atomic (no link followed; the old picture stays until the new one is whole).
// Throws ResourceError when gnuplot is missing, fails, is killed or writes an incomplete file.
void run_gnuplot(const std::function<std::string(const std::string&)>& make_script,
                 const std::string& ext, const std::string& path) {
  const PrivateTempDir tmp;
  const std::string out_name = "figure" + ext;
  {
    std::ofstream gp(tmp.path() + "/plot.gp", std::ios::binary);
    gp << make_script(out_name);
    if (!gp.flush())
      throw ResourceError(escape_text(path) + ": cannot write gnuplot's script in " +
                          escape_text(tmp.path()) + " (disk full?)");
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_addchdir_np(&fa, tmp.path().c_str());
  ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_addopen(&fa, 1, "gnuplot.err", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::posix_spawn_file_actions_adddup2(&fa, 1, 2);
  // gnuplot starts with default signal dispositions and an empty mask, whatever nmrc set.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  char arg0[] = "gnuplot", arg1[] = "plot.gp";
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "gnuplot", &fa, &attr, argv, environ);
  ::posix_spawn_file_actions_destroy(&fa);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw ResourceError(escape_text(path) + ": cannot run gnuplot (" +
                        std::error_code(rc, std::generic_category()).message() +
                        "; apt-get install gnuplot-nox)");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  auto said = [&] {  // gnuplot's last message, when it left one that can be read (1 MiB)
    try {
      const std::string l = last_line(read_file(tmp.path() + "/gnuplot.err", 1 << 20));
      return l.empty() ? std::string() : ": " + l;
    } catch (const InputError&) {
      return std::string();
    }
  };
  if (WIFSIGNALED(status))
    throw ResourceError(escape_text(path) + ": gnuplot was killed by signal " +
                        std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) +
                        "); no picture written");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw ResourceError(escape_text(path) + ": gnuplot failed (exit status " +
                        std::to_string(WEXITSTATUS(status)) + said() + "); no picture written");
  std::string picture;
  try {
    picture = read_file(tmp.path() + "/" + out_name);
  } catch (const InputError&) {
  }
  if (!complete_picture(picture, ext))
    throw ResourceError(escape_text(path) + ": gnuplot wrote an incomplete picture (" +
                        std::to_string(picture.size()) + " bytes" + said() +
                        "; disk full?); no picture written");
  write_file_atomic(path, picture);
}

}  // namespace

void render_png_svg(
    const std::function<std::string(const std::string&, const std::string&)>& make_script,
    const std::string& base_path) {
  // A named pair, not a structured binding: clang 14 (the sanitized build) cannot capture a
  // binding in a lambda.
  for (const auto& te : {std::pair<std::string, std::string>{"pngcairo noenhanced", ".png"},
                         std::pair<std::string, std::string>{"svg dynamic noenhanced", ".svg"}}) {
    const std::string& term = te.first;
    run_gnuplot([&](const std::string& out) { return make_script(term, out); }, te.second,
                base_path + te.second);
  }
}

void write_figure(const Figure& fig, const std::string& base_path) {
  for (const auto& te : {std::pair<std::string, std::string>{"pngcairo", ".png"},
                         std::pair<std::string, std::string>{"svg dynamic", ".svg"}}) {
    const std::string& term = te.first;
    run_gnuplot([&](const std::string& out) { return script(fig, term, out); }, te.second,
                base_path + te.second);
  }
}

}  // namespace nmrc::cli
