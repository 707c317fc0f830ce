# Per-ISA builds of nmrc's hot kernels (nmrc/core/isa.hpp; docs/building.md).
#
# A portable build (NMRC_NATIVE=OFF, the Debian package) targets the x86-64 baseline, which would
# make GRAPE's 16 x 16 products about twice as slow as an AVX2/AVX-512 build
# (bench/results/grape.md). Eigen chooses its vector width from compile-time macros, so each
# kernel file is compiled three times instead: for the baseline, for AVX2 + FMA and for AVX-512,
# each copy in its own namespace (NMRC_ISA_NS = isa_baseline, isa_avx2, isa_avx512) and with the
# weak symbols of the Eigen code it instantiates renamed (cmake/isa-private-symbols.sh), so no
# inline function compiled with wide instructions can replace the baseline one elsewhere. A
# baseline dispatch file picks the copy for the CPU at run time (NMRC_ISA_CALL). Native builds,
# sanitized and fuzzing builds compile each kernel once (isa_native).
set(NMRC_ISA_DISPATCH_DEFAULT OFF)
if(NOT NMRC_NATIVE AND NOT NMRC_SANITIZE AND NOT NMRC_FUZZ
   AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$"
   AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND CMAKE_NM AND CMAKE_OBJCOPY AND CMAKE_READELF)
  set(NMRC_ISA_DISPATCH_DEFAULT ON)
endif()
option(NMRC_ISA_DISPATCH
       "Portable build: hot kernels also for AVX2 and AVX-512, chosen at run time"
       ${NMRC_ISA_DISPATCH_DEFAULT})

# The instruction sets beyond the baseline, as nmrc::cpu_isa() tests them.
set(NMRC_ISA_FLAGS_avx2 -mavx2 -mfma)
set(NMRC_ISA_FLAGS_avx512 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # GCC bug 105593 in GCC 12's AVX-512 headers (the NMRC_NATIVE note in CMakeLists.txt).
  list(APPEND NMRC_ISA_FLAGS_avx512 -Wno-maybe-uninitialized -Wno-uninitialized)
endif()

# nmrc_isa_kernels(TARGET KERNELS file... DISPATCH file... LIBRARIES lib...): adds the kernel
# files (their entry points declared with NMRC_ISA_DECLARE, defined in namespace NMRC_ISA_NS) and
# the dispatch files (which call them through NMRC_ISA_CALL) to TARGET. LIBRARIES: what the
# kernels include (usage requirements of TARGET's dependencies).
function(nmrc_isa_kernels target)
  cmake_parse_arguments(K "" "" "KERNELS;DISPATCH;LIBRARIES" ${ARGN})
  # (A dispatch file may already be among TARGET's sources: it keeps its place there.)
  get_target_property(listed ${target} SOURCES)
  foreach(f IN LISTS K_DISPATCH K_KERNELS)
    if(NOT f IN_LIST listed AND (NOT NMRC_ISA_DISPATCH OR f IN_LIST K_DISPATCH))
      target_sources(${target} PRIVATE ${f})
    endif()
  endforeach()
  if(NOT NMRC_ISA_DISPATCH)
    return()
  endif()
  set_source_files_properties(${K_DISPATCH} PROPERTIES COMPILE_DEFINITIONS NMRC_ISA_DISPATCH=1)
  foreach(kernel IN LISTS K_KERNELS)
    get_filename_component(name ${kernel} NAME_WE)
    foreach(isa baseline avx2 avx512)
      set(obj ${target}_${name}_${isa})
      add_library(${obj} OBJECT ${kernel})
      set_target_properties(${obj} PROPERTIES UNITY_BUILD OFF)
      target_compile_features(${obj} PRIVATE cxx_std_20)
      target_include_directories(${obj} PRIVATE $<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>)
      target_compile_definitions(${obj} PRIVATE $<TARGET_PROPERTY:${target},COMPILE_DEFINITIONS>)
      target_link_libraries(${obj} PRIVATE ${K_LIBRARIES})
      target_compile_definitions(${obj} PRIVATE NMRC_ISA_NS=isa_${isa})
      target_compile_options(${obj} PRIVATE ${NMRC_ISA_FLAGS_${isa}})
      if(isa STREQUAL baseline)
        target_sources(${target} PRIVATE $<TARGET_OBJECTS:${obj}>)
      else()
        set(out ${CMAKE_CURRENT_BINARY_DIR}/isa/${name}.${isa}.o)
        add_custom_command(OUTPUT ${out}
          COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/isa
          COMMAND bash ${PROJECT_SOURCE_DIR}/cmake/isa-private-symbols.sh ${CMAKE_NM}
                  ${CMAKE_OBJCOPY} ${CMAKE_READELF} $<TARGET_OBJECTS:${obj}> ${out} .isa_${isa}
          DEPENDS ${obj} $<TARGET_OBJECTS:${obj}> ${PROJECT_SOURCE_DIR}/cmake/isa-private-symbols.sh
          COMMENT "ISA kernel ${name} (${isa}): private template symbols"
          VERBATIM)
        target_sources(${target} PRIVATE ${out})
      endif()
    endforeach()
  endforeach()
endfunction()
