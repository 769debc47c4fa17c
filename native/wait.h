// Waiting on a 32-bit word in shared memory: futex on Linux (polling elsewhere), blocking with
// a CLOCK_MONOTONIC deadline, and the Watcher that serves async waits from one dedicated thread
// per watched word, so no libuv threadpool thread is ever parked.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "deadline.h"

namespace mp {

// The pause a spin loop makes between looks at shared memory.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Parks while *word == expected, for at most `timeout_ms` (< 0: no limit). Returns on wake,
// timeout, EINTR or a changed word alike: callers re-check their condition.
void WaitOnWord(std::atomic<int32_t>* word, int32_t expected, double timeout_ms);
void WakeWord(std::atomic<int32_t>* word, int32_t count);

// Watcher threads running in this process (SemLock and ring watchers): known threads for fork's
// audit of unexplained ones. Watchers count themselves in and out.
int LiveWatcherThreads();
void CountWatcherThread(int delta);

// Joins a watcher thread that may be parked on `word` after its owner set its stop flag. A wake
// sent between the thread's last look at that flag and its futex call is lost, so this wakes the
// word until the thread says it has left its loop (`exited`).
void JoinWatcherThread(std::thread& thread, const std::atomic<bool>& exited, std::atomic<int32_t>* word,
                       std::atomic<int32_t>* other_word = nullptr);

void InitWait(Napi::Env env, Napi::Object exports);

}  // namespace mp
