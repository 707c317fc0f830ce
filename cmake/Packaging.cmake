# The Debian package (cpack -G DEB in a portable build folder; docs/building.md, "The Debian
# package"): what cmake --install puts under /usr (the nmrc CLI and its man page, libraries,
# headers, the CMake package, molecules/ and sequences/ under share/nmrc, the docs and examples
# under share/doc/nmrc, the Python package and its metadata under lib/python3/dist-packages).
# Library dependencies come from dpkg-shlibdeps (libyaml-cpp0.7, libfftw3-double3, libstdc++6,
# ...); the ones it cannot see are listed here. Build it from a tree configured with
# -DNMRC_NATIVE=OFF (scripts/package.sh): binaries for any x86-64 CPU, Debian's hardening flags,
# and the hot kernels also for AVX2 and AVX-512, chosen at run time (cmake/IsaKernels.cmake).
# A package of a native tree runs only on CPUs like the one that built it.

# The man page, from `nmrc --help` by Debian's help2man (when installed), with the examples,
# exit status and pointers of docs/nmrc.h2m; compressed as Debian's policy asks (gzip -9n: no
# name or time stamp, so the same page gives the same file).
find_program(NMRC_HELP2MAN help2man)
find_program(NMRC_GZIP gzip)
if(NMRC_HELP2MAN AND NMRC_GZIP)
  set(NMRC_MAN_PAGE ${CMAKE_BINARY_DIR}/man/nmrc.1)
  add_custom_command(OUTPUT ${NMRC_MAN_PAGE}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${NMRC_HELP2MAN} --no-info --no-discard-stderr --section=1
            "--name=NMR pulse-sequence compiler and virtual spectrometer"
            "--version-string=${PROJECT_VERSION}"
            --include=${CMAKE_CURRENT_SOURCE_DIR}/docs/nmrc.h2m
            --output=${NMRC_MAN_PAGE} $<TARGET_FILE:nmrc>
    COMMAND ${NMRC_GZIP} -9nf ${NMRC_MAN_PAGE}
    DEPENDS nmrc ${CMAKE_CURRENT_SOURCE_DIR}/docs/nmrc.h2m
    COMMENT "help2man: man page of nmrc")
  add_custom_target(nmrc_man ALL DEPENDS ${NMRC_MAN_PAGE}.gz)
  install(FILES ${NMRC_MAN_PAGE}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# The documentation (docs/ as /usr/share/doc/nmrc/docs, so that every "docs/X.md" of the man
# page, the --help texts and the docstrings names a file under /usr/share/doc/nmrc), the Python
# examples (they find their data through nmrc.data_dir(); python3 -m pytest on the folder runs
# each one small), the README, Debian's copyright file
# (cmake/debian/copyright) and changelog.
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs PATTERN nmrc.h2m EXCLUDE)
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples PATTERN __pycache__ EXCLUDE)
install(FILES README.md cmake/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
set(NMRC_PACKAGE_CONTACT "nmrc maintainers <maintainers@users.noreply.r-seed-e698a454.example>"
    CACHE STRING "The Debian package's maintainer (name <mail>)")
set(NMRC_DEB_VERSION ${PROJECT_VERSION})
set(NMRC_DEB_MAINTAINER ${NMRC_PACKAGE_CONTACT})
configure_file(cmake/debian/changelog.in ${CMAKE_BINARY_DIR}/debian/changelog @ONLY)
if(NMRC_GZIP)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/debian/changelog.gz
    COMMAND ${NMRC_GZIP} -9nc ${CMAKE_BINARY_DIR}/debian/changelog >
            ${CMAKE_BINARY_DIR}/debian/changelog.gz
    DEPENDS ${CMAKE_BINARY_DIR}/debian/changelog)
  add_custom_target(nmrc_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/debian/changelog.gz)
  install(FILES ${CMAKE_BINARY_DIR}/debian/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()

# Maintainer scripts: the Python byte code goes with the package (cmake/debian/prerm.in).
if(NOT NMRC_PYTHON_INSTALL_DIR)
  set(NMRC_PYTHON_INSTALL_DIR lib/python3/dist-packages)
endif()
set(NMRC_DEB_PYTHON_DIR /usr/${NMRC_PYTHON_INSTALL_DIR})
foreach(script prerm postrm)
  configure_file(cmake/debian/${script}.in ${CMAKE_BINARY_DIR}/debian/${script} @ONLY
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                  WORLD_READ WORLD_EXECUTE)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME nmrc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${NMRC_PACKAGE_CONTACT})
# Debian's description: a synopsis line, then the extended description in lines under 80
# characters (lintian's extended-description-line-too-long).
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "NMR pulse-sequence compiler and virtual spectrometer")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION [=[GRAPE pulse compiler, virtual NMR spectrometer, state tomography and the
heat-flow theory engine of "reversing heat flow by coherence" experiments,
as the nmrc command, C++ libraries (find_package(nmrc)) and the Python
package nmrc. Runs on any amd64 CPU; its GRAPE kernel uses AVX2 or AVX-512
when the CPU has them.]=])
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Stripped binaries (the CLI and the Python extension module; lintian's unstripped-binary-or-object).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/debian/prerm
                                       ${CMAKE_BINARY_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Beyond the shared libraries: the Python package needs Debian's python3 and numpy; the CLI draws
# its figures with gnuplot; examples and interop use matplotlib and QuTiP.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3 (>= 3.11), python3-numpy")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "gnuplot-nox, python3-matplotlib, python3-qutip")
include(CPack)
