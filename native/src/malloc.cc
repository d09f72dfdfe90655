// meshcache's optional native addon (Node-API, C): how glibc's malloc gives memory back. Node's
// Buffers live in malloc'd memory (V8 keeps only the JS objects); glibc serves blocks over its mmap
// threshold with mmap (unmapped again on free) and the rest from its arenas, which it gives back
// only from the top of a heap. The threshold starts at 128 KiB but is dynamic: each free of an
// mmapped block raises it to that block's size (up to 32 MiB), so after one 8 MiB Buffer is freed
// the next ones come from an arena and their pages stay with the process after they are freed.
// configureMalloc fixes the threshold (setting it turns the dynamic rule off, for the trim
// threshold too); trimMemory gives back the free pages inside the arenas, wherever they are. Both
// are process-wide; elsewhere than glibc they do nothing and say so. Nothing here throws except on
// a caller's wrong argument.
#include <node_api.h>
#include <atomic>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

// The threshold set by the first successful configureMalloc of this process (0 = none yet): the
// addon is loaded once per process, so every thread that loads it sees this one value.
static std::atomic<long> configuredThreshold{0};

static napi_value Result(napi_env env, bool applied, long threshold, const char* reason) {
  napi_value out, vapplied, vthreshold, vreason;
  napi_create_object(env, &out);
  napi_get_boolean(env, applied, &vapplied);
  napi_create_int64(env, threshold, &vthreshold);
  napi_create_string_utf8(env, reason, NAPI_AUTO_LENGTH, &vreason);
  napi_set_named_property(env, out, "applied", vapplied);
  napi_set_named_property(env, out, "mmapThresholdBytes", vthreshold);
  napi_set_named_property(env, out, "reason", vreason);
  return out;
}

// configureMalloc(mmapThresholdBytes: number): { applied: boolean, mmapThresholdBytes: number, reason: string }
// mallopt(M_MMAP_THRESHOLD, n) once per process: blocks of n bytes and more are mmapped, and
// unmapped when freed; glibc no longer moves the threshold. A later call changes nothing and
// reports the threshold in force.
static napi_value ConfigureMalloc(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t threshold = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_get_value_int64(env, argv[0], &threshold) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "configureMalloc(mmapThresholdBytes) takes a number");
    return nullptr;
  }
  // glibc refuses thresholds over HEAP_MAX_SIZE / 2 (32 MiB on 64-bit); 4 KiB is a page.
  if (threshold < 4096 || threshold > 32 * 1024 * 1024) {
    napi_throw_range_error(env, "ERR_INVALID_ARG", "mmapThresholdBytes must be an integer from 4096 to 33554432");
    return nullptr;
  }
#ifdef __GLIBC__
  long expected = 0;
  if (!configuredThreshold.compare_exchange_strong(expected, (long)threshold)) {
    return Result(env, true, expected, "configured earlier in this process");
  }
  if (mallopt(M_MMAP_THRESHOLD, (int)threshold) != 1) {
    configuredThreshold.store(0);
    return Result(env, false, 0, "mallopt(M_MMAP_THRESHOLD) refused the value");
  }
  char reason[128];
  snprintf(reason, sizeof reason, "glibc mallopt(M_MMAP_THRESHOLD, %ld): the dynamic threshold is off", (long)threshold);
  return Result(env, true, (long)threshold, reason);
#else
  return Result(env, false, 0, "not glibc: its malloc is left as it is");
#endif
}

// trimMemory(): boolean — malloc_trim(0): gives the free pages of every arena back to the system
// (the top of each heap, and whole free pages inside it); true when something was released.
static napi_value TrimMemory(napi_env env, napi_callback_info info) {
  bool released = false;
#ifdef __GLIBC__
  released = malloc_trim(0) == 1;
#endif
  napi_value out;
  napi_get_boolean(env, released, &out);
  return out;
}

napi_value InitMalloc(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"configureMalloc", nullptr, ConfigureMalloc, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"trimMemory", nullptr, TrimMemory, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
