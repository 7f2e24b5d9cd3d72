# torch/torch.h is most of a translation unit's compile time (tens of seconds of parsing in each
# unity batch). It is precompiled once, in sit_torch_pch, and every C++ target of the project
# reuses that one header (SIT_PCH=OFF: plain includes). A precompiled header is used only where
# the compiler flags that shape it agree, so every reusing target is compiled as position-
# independent code (-fPIC), as the library is.
option(SIT_PCH "Precompile torch/torch.h once and reuse it in every target" ON)

if(SIT_PCH)
  add_library(sit_torch_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/precompiled_torch.cpp)
  target_link_libraries(sit_torch_pch PRIVATE torch)
  target_compile_features(sit_torch_pch PRIVATE cxx_std_17)
  set_target_properties(sit_torch_pch PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_precompile_headers(sit_torch_pch PRIVATE <torch/torch.h>)
endif()

# sit_reuse_precompiled_torch(DIRECTORY): every library and program defined under DIRECTORY
# (recursively) takes sit_torch_pch's header. Called once, after all targets are defined.
function(sit_reuse_precompiled_torch directory)
  if(NOT SIT_PCH)
    return()
  endif()
  get_property(targets DIRECTORY ${directory} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(target STREQUAL "sit_torch_pch" OR NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY)$")
      continue()
    endif()
    target_precompile_headers(${target} REUSE_FROM sit_torch_pch)
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
