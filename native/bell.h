// The bell (lib/blocking.ts): ends the calling thread's futex waits early while a busy Pool must be
// served. JS arms it with the pool's descriptors before a blocking wait; a helper thread polls them
// and, once one is readable or the pool's next timer is due, rings: the wait returns kInterrupted.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>

namespace mp {

// What a wait returns when the bell ended it (beside TakeResult's values).
constexpr int32_t kInterrupted = 3;

// True when the bell armed on this thread has rung.
bool BellRang();

// ParkCounted that the bell armed on this thread, if any, ends early.
void ParkRingable(std::atomic<int32_t>* word, int32_t expected, std::atomic<int32_t>* sleepers, double timeout_ms);

void InitBell(Napi::Env env, Napi::Object exports);

}  // namespace mp
