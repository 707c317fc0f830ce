# The Debian package (cpack -G DEB in the build folder; docs/python.md, "Packaging"): what
# cmake --install puts under /usr (the nmrc CLI and its man page, libraries, headers, the CMake
# package, molecules/ and sequences/ under share/nmrc, the Python package under
# lib/python3/dist-packages). Library dependencies come from dpkg-shlibdeps (libyaml-cpp0.7,
# libfftw3-double3, libstdc++6, ...); the ones it cannot see are listed here. A package built
# with NMRC_NATIVE (the default) runs only on CPUs with this machine's instruction set: configure
# with -DNMRC_NATIVE=OFF for one that runs on any x86-64.

# The man page, from `nmrc --help` by Debian's help2man (when installed), with the examples,
# exit status and pointers of docs/nmrc.h2m.
find_program(NMRC_HELP2MAN help2man)
if(NMRC_HELP2MAN)
  set(NMRC_MAN_PAGE ${CMAKE_BINARY_DIR}/man/nmrc.1)
  add_custom_command(OUTPUT ${NMRC_MAN_PAGE}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${NMRC_HELP2MAN} --no-info --no-discard-stderr --section=1
            "--name=NMR pulse-sequence compiler and virtual spectrometer"
            "--version-string=${PROJECT_VERSION}"
            --include=${CMAKE_CURRENT_SOURCE_DIR}/docs/nmrc.h2m
            --output=${NMRC_MAN_PAGE} $<TARGET_FILE:nmrc>
    DEPENDS nmrc ${CMAKE_CURRENT_SOURCE_DIR}/docs/nmrc.h2m
    COMMENT "help2man: man page of nmrc")
  add_custom_target(nmrc_man ALL DEPENDS ${NMRC_MAN_PAGE})
  install(FILES ${NMRC_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME nmrc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "nmrc developers <nmrc@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "NMR pulse-sequence compiler and virtual spectrometer")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "GRAPE pulse compiler, virtual NMR spectrometer, tomography and heat-flow theory engine, "
       "as the nmrc command, C++ libraries (find_package(nmrc)) and the Python package nmrc.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Beyond the shared libraries: the Python package needs Debian's python3 and numpy; the CLI draws
# its figures with gnuplot; examples and interop use matplotlib and QuTiP.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3 (>= 3.11), python3-numpy")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "gnuplot-nox, python3-matplotlib, python3-qutip")
include(CPack)
