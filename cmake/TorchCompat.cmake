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

# A CUDA libtorch must hold kernels this machine's GPU can run (#28): a cubin of the GPU's major
# architecture at or below its minor (sm_80 runs on an 8.6 GPU, not on 9.0), or PTX at or below
# its architecture (compiled just in time on first use). Otherwise every kernel launch fails with
# "no kernel image is available for execution on the device" — after the build, at the first
# tensor. Read from libtorch_cuda with cuobjdump (the CUDA toolkit's) and the GPU from nvidia-smi;
# either missing (a build machine without a GPU, a CPU libtorch) means nothing to check.
# -DCP_TORCH_CUDA_ARCHS="sm_80;compute_80" and -DCP_GPU_COMPUTE_CAPABILITY=9.0 give them by hand;
# -DCP_SKIP_CUDA_ARCH_CHECK=ON builds for another machine's GPU.
function(cp_cuda_arch_fits archs capability out)
  set(fits FALSE)
  if(NOT capability MATCHES "^([0-9]+)\\.([0-9]+)$")
    set(${out} FALSE PARENT_SCOPE)
    return()
  endif()
  set(gpu_major ${CMAKE_MATCH_1})
  set(gpu_minor ${CMAKE_MATCH_2})
  math(EXPR gpu "${gpu_major} * 10 + ${gpu_minor}")
  foreach(arch IN LISTS archs)
    if(arch MATCHES "^(sm|compute)_([0-9]+)([0-9])([a-z]?)$")
      set(kind ${CMAKE_MATCH_1})
      set(major ${CMAKE_MATCH_2})
      set(minor ${CMAKE_MATCH_3})
      set(suffix "${CMAKE_MATCH_4}")
      math(EXPR value "${major} * 10 + ${minor}")
      if(kind STREQUAL "sm" AND major EQUAL gpu_major AND minor LESS_EQUAL gpu_minor AND
         (suffix STREQUAL "" OR value EQUAL gpu))
        set(fits TRUE)  # a cubin of the same major runs on a later minor ("a" ones on their own only)
      elseif(kind STREQUAL "compute" AND suffix STREQUAL "" AND value LESS_EQUAL gpu)
        set(fits TRUE)  # PTX: compiled for the GPU when first used
      endif()
    endif()
  endforeach()
  set(${out} ${fits} PARENT_SCOPE)
endfunction()

function(cp_check_torch_cuda_arch)
  if(CP_SKIP_CUDA_ARCH_CHECK)
    return()
  endif()
  set(library "${TORCH_INSTALL_PREFIX}/lib/libtorch_cuda.so")
  if(NOT EXISTS "${library}")
    return()  # a CPU libtorch
  endif()
  set(archs "${CP_TORCH_CUDA_ARCHS}")
  if(archs STREQUAL "")
    find_program(CP_CUOBJDUMP cuobjdump HINTS "$ENV{CUDA_HOME}/bin" /usr/local/cuda/bin)
    if(NOT CP_CUOBJDUMP)
      message(STATUS "libtorch is built for CUDA; no cuobjdump here to read its GPU architectures")
      return()
    endif()
    foreach(what elf ptx)
      execute_process(COMMAND "${CP_CUOBJDUMP}" --list-${what} "${library}"
                      OUTPUT_VARIABLE listing ERROR_QUIET)
      string(REGEX MATCHALL "(sm|compute)_[0-9]+[a-z]?" found "${listing}")
      if(what STREQUAL "ptx")
        list(TRANSFORM found REPLACE "^sm_" "compute_")  # PTX files are named sm_XY.ptx
      endif()
      list(APPEND archs ${found})
    endforeach()
    list(REMOVE_DUPLICATES archs)
  endif()
  set(capability "${CP_GPU_COMPUTE_CAPABILITY}")
  set(gpu_name "this machine's GPU")
  if(capability STREQUAL "")
    find_program(CP_NVIDIA_SMI nvidia-smi)
    if(NOT CP_NVIDIA_SMI)
      return()  # no GPU here: the build may be for another machine
    endif()
    execute_process(COMMAND "${CP_NVIDIA_SMI}" --query-gpu=name,compute_cap
                            --format=csv,noheader OUTPUT_VARIABLE gpus ERROR_QUIET)
    if(NOT gpus MATCHES "^([^,\n]+), *([0-9]+\\.[0-9]+)")
      return()
    endif()
    set(gpu_name "${CMAKE_MATCH_1}")
    set(capability "${CMAKE_MATCH_2}")
  endif()
  if(archs STREQUAL "")
    return()
  endif()
  cp_cuda_arch_fits("${archs}" "${capability}" fits)
  if(fits)
    message(STATUS "libtorch's CUDA kernels fit ${gpu_name} (compute capability ${capability})")
    return()
  endif()
  string(REPLACE "." "" sm "${capability}")
  string(REPLACE ";" " " archs_text "${archs}")
  message(FATAL_ERROR
    "libtorch (${library}) holds CUDA kernels for ${archs_text} only, and ${gpu_name} is "
    "sm_${sm} (compute capability ${capability}): every kernel would fail with 'no kernel image "
    "is available'. Use a libtorch built for sm_${sm} (a newer PyTorch wheel or libtorch archive "
    "for a recent CUDA, or one built from source with TORCH_CUDA_ARCH_LIST=\"${capability}\"), "
    "or configure with -DCP_SKIP_CUDA_ARCH_CHECK=ON to build for another machine's GPU.")
endfunction()
