# tests.cmake — registers every test program and script.
#   tests/test_*.c  -> one executable + one ctest entry each (exit 0 pass, 77 skip, else fail)
#   tests/cli_*.sh  -> one ctest entry each, run with bash; $SP_BIN is the swarmprune binary
#   tests/bench_*.c -> benchmark programs (built, never run by ctest)
# Tests find ../shared through SWARMPRUNE_SHARED or <source>/../shared (see test_util.h).

set(SP_TEST_ENV
    "SP_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    "SP_BIN=$<TARGET_FILE:swarmprune>"
    "OPENBLAS_NUM_THREADS=1"
    "OMPI_ALLOW_RUN_AS_ROOT=1" "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
    "OMPI_MCA_rmaps_base_oversubscribe=1" "OMPI_MCA_btl_vader_single_copy_mechanism=none")

function(sp_register_test name)
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT "${SP_TEST_ENV}"
                       TIMEOUT 1800)
endfunction()

file(GLOB SP_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/test_*.c)
foreach(src ${SP_TEST_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE swarmprune_core)
  target_compile_definitions(${name} PRIVATE SP_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  sp_register_test(${name})
endforeach()

file(GLOB SP_TEST_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/cli_*.sh)
foreach(script ${SP_TEST_SCRIPTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME ${name} COMMAND bash ${script})
  sp_register_test(${name})
endforeach()

file(GLOB SP_BENCH_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/bench_*.c)
foreach(src ${SP_BENCH_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE swarmprune_core)
  target_compile_definitions(${name} PRIVATE SP_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endforeach()
