# fuzz.cmake — libFuzzer harnesses (tests/fuzz/fuzz_*.c), built when SP_FUZZ=ON with clang:
#   CC=clang cmake -S . -B build-fuzz -DSP_FUZZ=ON -DSP_WITH_CUDA=OFF
#   cmake --build build-fuzz --target sp_fuzz_all
# The core library is instrumented for coverage (fuzzer-no-link) and built with ASan + UBSan (any
# undefined behaviour aborts); each harness links libFuzzer's main. SP_FUZZ_CJSON_SRC may name a
# cJSON.c to compile into the harnesses so that the JSON parser's paths count as coverage too
# (otherwise the system libcjson is linked, uninstrumented).
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SP_FUZZ=ON needs clang (libFuzzer): CC=clang cmake -DSP_FUZZ=ON ...")
endif()
set(SP_FUZZ_CJSON_SRC "" CACHE FILEPATH "cJSON.c to compile into the fuzz harnesses (optional)")
set(SP_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
# Numeric per-element loops are left out of the coverage tracing (coverage_ignore.txt).
target_compile_options(swarmprune_core PRIVATE -fsanitize=fuzzer-no-link ${SP_FUZZ_SAN}
  -fsanitize-coverage-ignorelist=${CMAKE_SOURCE_DIR}/tests/fuzz/coverage_ignore.txt)
target_link_options(swarmprune_core INTERFACE -fsanitize=address,undefined)

add_custom_target(sp_fuzz_all)
file(GLOB SP_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${SP_FUZZ_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  if(SP_FUZZ_CJSON_SRC)
    target_sources(${name} PRIVATE ${SP_FUZZ_CJSON_SRC})
  endif()
  target_link_libraries(${name} PRIVATE swarmprune_core)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer ${SP_FUZZ_SAN})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_compile_definitions(${name} PRIVATE _GNU_SOURCE SP_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_dependencies(sp_fuzz_all ${name})
endforeach()

# Seed generator for formats without a fixture (GGUF): plain, not instrumented.
add_executable(sp_fuzz_seed_gguf ${CMAKE_SOURCE_DIR}/tests/fuzz/seed_gguf.c)
target_include_directories(sp_fuzz_seed_gguf PRIVATE ${CMAKE_SOURCE_DIR})
add_dependencies(sp_fuzz_all sp_fuzz_seed_gguf)
