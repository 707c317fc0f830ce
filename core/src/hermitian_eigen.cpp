#include "nmrc/core/hermitian_eigen.hpp"

#include <Eigen/Eigenvalues>

namespace nmrc {

HermitianEigen hermitian_eigen(const Mat& h) {
  const Eigen::SelfAdjointEigenSolver<Mat> es(h);
  return {es.eigenvalues(), es.eigenvectors()};
}

RVec hermitian_eigenvalues(const Mat& h) {
  return Eigen::SelfAdjointEigenSolver<Mat>(h, Eigen::EigenvaluesOnly).eigenvalues();
}

}  // namespace nmrc
