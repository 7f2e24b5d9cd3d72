# torch/torch.h is most of a translation unit's compile time (tens of seconds of parsing in each
# unity batch). It is precompiled once, in sit_torch_pch, and every C++ target of the project
# reuses that one header (SIT_PCH=OFF: plain includes). A precompiled header is used only where
# the compiler flags that shape it agree, so every reusing target is compiled as position-
# independent code (-fPIC), as the library is.
option(SIT_PCH "Precompile torch/torch.h once and reuse it in every target" ON)
# The tests' and harnesses' own code is glue around the library's calls (compiled as the build
# type says); unoptimised, a test source compiles in about half the time -O3 takes.
set(SIT_TEST_COMPILE_OPTIONS $<$<CONFIG:Release,RelWithDebInfo,MinSizeRel>:-O0>)

# sit_add_precompiled_torch(NAME [compile options...]): an object library whose precompiled
# torch/torch.h other targets reuse.
function(sit_add_precompiled_torch name)
  add_library(${name} OBJECT ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/precompiled_torch.cpp)
  target_link_libraries(${name} PRIVATE torch)
  target_compile_features(${name} PRIVATE cxx_std_17)
  target_compile_options(${name} PRIVATE ${ARGN})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_precompile_headers(${name} PRIVATE <torch/torch.h>)
endfunction()

if(SIT_PCH)
  sit_add_precompiled_torch(sit_torch_pch)
  # The tests' and fuzz harnesses' own code is compiled without optimisation (tests/CMakeLists.txt),
  # and a header precompiled with -O3 is refused there (__OPTIMIZE__), so they have their own.
  if(SIT_BUILD_TESTS OR SIT_FUZZ)
    sit_add_precompiled_torch(sit_test_torch_pch ${SIT_TEST_COMPILE_OPTIONS})
  endif()
endif()

# A directory names the precompiled header of its targets (and its subdirectories') with
#   set_property(DIRECTORY PROPERTY SIT_PRECOMPILED_FROM sit_test_torch_pch)
define_property(DIRECTORY PROPERTY SIT_PRECOMPILED_FROM INHERITED
                BRIEF_DOCS "The target whose precompiled header the directory's targets reuse"
                FULL_DOCS "Default: sit_torch_pch (cmake/precompiled_torch.cmake).")

# sit_reuse_precompiled_torch(DIRECTORY): every library and program defined under DIRECTORY
# (recursively) without a precompiled header of its own takes its directory's
# SIT_PRECOMPILED_FROM, by default sit_torch_pch. Called once, after all targets are defined.
function(sit_reuse_precompiled_torch directory)
  if(NOT SIT_PCH)
    return()
  endif()
  get_property(targets DIRECTORY ${directory} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(from DIRECTORY ${directory} PROPERTY SIT_PRECOMPILED_FROM)
  if(NOT from)
    set(from sit_torch_pch)
  endif()
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    get_target_property(own ${target} PRECOMPILE_HEADERS)
    if(own OR NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY)$")
      continue()
    endif()
    target_precompile_headers(${target} REUSE_FROM ${from})
    # The header needs torch's include paths and definitions and the language level it was
    # compiled with (clang refuses a C++17 header in a C++14 unit), also in a target of no torch code.
    target_link_libraries(${target} PRIVATE torch)
    target_compile_features(${target} PRIVATE cxx_std_17)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fPIC>)
    get_target_property(sources ${target} SOURCES)
    foreach(source IN LISTS sources)
      if(source MATCHES "\\.cu$")
        set_source_files_properties(${source} TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
      endif()
    endforeach()
  endforeach()
  get_property(subdirectories DIRECTORY ${directory} PROPERTY SUBDIRECTORIES)
  foreach(subdirectory IN LISTS subdirectories)
    sit_reuse_precompiled_torch(${subdirectory})
  endforeach()
endfunction()
