// Byte streams between processes: socketpair/pipe, CPython's length-prefixed frames with blocking
// send/recv, poll, fd passing with SCM_RIGHTS, and FdWatcher for event-loop driven async reads.
#pragma once
#include <napi.h>

namespace mp {
void InitUnixSocket(Napi::Env env, Napi::Object exports);

// The mappings kept for large frames' reuse stay out of fork children (call after the fork pass).
void KeepCachedMappingsOutOfForks();
}
