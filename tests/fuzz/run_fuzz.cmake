# One bounded fuzzing run, as CTest's <name>_fuzz tests do it (tests/fuzz/CMakeLists.txt):
#   cmake -DFUZZER=<binary> -DSEEDS=<seed corpus> -DDICTIONARY=<file> -DSCRATCH=<dir>
#         -DSECONDS=<n> -P run_fuzz.cmake
# The fuzzer works on a fresh copy of the seeds in SCRATCH/corpus, so the corpus in git never
# changes. It fails when libFuzzer does: a crash, a sanitizer report, a broken property, an input
# slower than 10 s or above 2 GiB of memory. The input that failed stays as SCRATCH/crash-<sha1>
# (or timeout-, oom-, leak-): run the binary with that file as its only argument to reproduce.
# SECONDS=0 runs every seed once and does not fuzz.
foreach(variable FUZZER SEEDS DICTIONARY SCRATCH SECONDS)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "run_fuzz.cmake: -D${variable}=... is missing")
  endif()
endforeach()
foreach(variable FUZZER SEEDS DICTIONARY SCRATCH)
  get_filename_component(${variable} "${${variable}}" ABSOLUTE)  # the fuzzer runs in SCRATCH
endforeach()

file(REMOVE_RECURSE "${SCRATCH}/corpus")
file(MAKE_DIRECTORY "${SCRATCH}")
file(COPY "${SEEDS}/" DESTINATION "${SCRATCH}/corpus")

if(SECONDS GREATER 0)
  set(budget -max_total_time=${SECONDS})
else()
  set(budget -runs=0)
endif()
execute_process(
  COMMAND "${FUZZER}" "${SCRATCH}/corpus" ${budget} -dict=${DICTIONARY} -timeout=10
          -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=${SCRATCH}/
  WORKING_DIRECTORY "${SCRATCH}"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${result}): the input is in ${SCRATCH}/")
endif()
