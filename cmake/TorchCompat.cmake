# Whether the libtorch find_package(Torch) found can build this project (#28): any libtorch
# (Debian's, the libtorch archive, the one inside a PyTorch wheel; CPU or CUDA) given by
# CMAKE_PREFIX_PATH, as long as
# - it is 1.13 or newer (the oldest the code is written for: Debian 12's), and
# - its C++ ABI (_GLIBCXX_USE_CXX11_ABI in TORCH_CXX_FLAGS) is the one this compiler gives by
#   default, which is the one Debian's Qt 6 and GoogleTest were built with: std::string crosses
#   both libraries' interfaces, so two ABIs in one program do not link (or worse, crash).
# Each misfit is a configure-time error naming it and the way out.
include(CheckCXXSourceCompiles)

function(cp_check_torch)
  if(DEFINED Torch_VERSION AND NOT Torch_VERSION STREQUAL "" AND Torch_VERSION VERSION_LESS 1.13)
    message(FATAL_ERROR
      "libtorch ${Torch_VERSION} (${Torch_DIR}) is older than 1.13, the oldest this workbench "
      "builds against. Point CMAKE_PREFIX_PATH at libtorch 1.13 or newer (Debian 12's "
      "libtorch-dev, Debian 13's 2.6, or a PyTorch 2.x wheel's: "
      "python3 -c 'import torch; print(torch.utils.cmake_prefix_path)').")
  endif()
  set(torch_abi "")
  if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
    set(torch_abi "${CMAKE_MATCH_1}")
  endif()
  if(torch_abi STREQUAL "")
    return()  # the flag is not set: libtorch uses the compiler's default, as everything else
  endif()
  check_cxx_source_compiles("
    #include <string>
    #if !_GLIBCXX_USE_CXX11_ABI
    #error pre-C++11 ABI
    #endif
    int main() { return 0; }" CP_COMPILER_CXX11_ABI)
  if(CP_COMPILER_CXX11_ABI)
    set(system_abi 1)
  else()
    set(system_abi 0)
  endif()
  if(torch_abi STREQUAL system_abi)
    return()
  endif()
  set(users "")
  if(CP_BUILD_GUI)
    list(APPEND users "Qt 6 (the workbench)")
  endif()
  if(CP_BUILD_TESTS)
    list(APPEND users "GoogleTest (the tests)")
  endif()
  if(users STREQUAL "")
    message(WARNING
      "libtorch (${Torch_DIR}) uses _GLIBCXX_USE_CXX11_ABI=${torch_abi}, this system's "
      "libraries ${system_abi}: with the GUI and the tests off the CLI links only C libraries "
      "besides libtorch, so it builds.")
    return()
  endif()
  string(REPLACE ";" " and " users "${users}")
  if(torch_abi STREQUAL "0")
    string(CONCAT fix "use a libtorch built with the C++11 ABI: the libtorch archive named "
           "'cxx11-abi' (libtorch-cxx11-abi-shared-with-deps-*.zip), a PyTorch wheel built with "
           "it (torch.compiled_with_cxx11_abi() is True), or Debian's libtorch-dev")
  else()
    set(fix "use a libtorch of the pre-C++11 ABI to match this system's libraries")
  endif()
  message(FATAL_ERROR
    "libtorch (${Torch_DIR}) is built with _GLIBCXX_USE_CXX11_ABI=${torch_abi} but this "
    "system's ${users} were built with _GLIBCXX_USE_CXX11_ABI=${system_abi}: one program cannot hold both. "
    "Either ${fix}, or configure with -DCP_BUILD_GUI=OFF -DCP_BUILD_TESTS=OFF to build the CLI "
    "alone against this libtorch.")
endfunction()
