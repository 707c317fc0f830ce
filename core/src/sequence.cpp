#include "nmrc/core/sequence.hpp"

namespace nmrc {

double element_duration(const Element& e) {
  return std::visit(
      [](const auto& x) -> double {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, HardPulseElement> || std::is_same_v<T, ShapedPulseElement>)
          return x.duration_s();
        else if constexpr (std::is_same_v<T, DelayElement> || std::is_same_v<T, GradientElement>)
          return x.duration_s;
        else
          return 0.0;
      },
      e);
}

double Sequence::duration_s() const {
  double t = 0.0;
  for (const auto& e : elements) t += element_duration(e);
  return t;
}

std::vector<double> Sequence::time_points() const {
  std::vector<double> out{0.0};
  double t = 0.0;
  for (const auto& e : elements) {
    const double d = element_duration(e);
    if (d > 0.0) {
      t += d;
      out.push_back(t);
    }
  }
  return out;
}

}  // namespace nmrc
