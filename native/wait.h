// Waiting on a 32-bit word in shared memory: futex on Linux (polling elsewhere), blocking with
// a CLOCK_MONOTONIC deadline, and the Watcher that serves async waits from one dedicated thread
// per watched word, so no libuv threadpool thread is ever parked.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>

#include "deadline.h"

namespace mp {

// Parks while *word == expected, for at most `timeout_ms` (< 0: no limit). Returns on wake,
// timeout, EINTR or a changed word alike: callers re-check their condition.
void WaitOnWord(std::atomic<int32_t>* word, int32_t expected, double timeout_ms);
void WakeWord(std::atomic<int32_t>* word, int32_t count);

// Watcher threads running in this process: known threads for fork's audit of unexplained ones.
int LiveWatcherThreads();

void InitWait(Napi::Env env, Napi::Object exports);

}  // namespace mp
